import numpy as np, sys
SR=16000;F=512
K=['p','db','flat','cen','low','hi','voi','f0','flux']
def show(pkg, pat):
    z=np.load(f'cache/{pkg}.npz',allow_pickle=True)
    for f,a,b in z['files']:
        if pat in f:
            p=z['p'][a:b]; idx=np.where(p>=0.5)[0]
            print(f.split('/')[-1], b-a, 'frames', len(idx),'speech frames')
            for i in idx[:60]:
                print('  ',i, ' '.join(f'{k}={z[k][a+i]:.2f}' for k in K))
for arg in sys.argv[1:]:
    pkg,pat=arg.split(':'); show(pkg,pat)
