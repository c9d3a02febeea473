import numpy as np
from pathlib import Path
exec(open('/tmp/gate2/replay.py').read())
import sys
MODE=sys.argv[1]  # bands (>= 1.5 / 1 kHz) or bands300 (shares of the energy >= 300 Hz)
ns=load_ns(); sp=load_sp(); C3=Path('/tmp/gate3/cacheh' if MODE=='bands' else '/tmp/gate3/cacher')
ns={'lincity-ng-data':ns['lincity-ng-data']}; ns['lincity-ng-data'].update(dict(np.load(C3/'lincity-ng-data.npz')))
for k in sp:
    z=np.load(C3/f'{k}.npz',allow_pickle=True)
    for d,s in zip(sp[k][0],z['clips']): d.update(s)
def lu(d): return ~((d['db']>-20)&(d['voi']<0.6)&(d['cen']<1000))
def base(d): return (d['p']>=0.5)&lu(d)
def opened2(d,v,T,q,key):
    o=opened(v)
    for i,((a,b,w),oo) in enumerate(zip(hops(len(v)),o)):
        if not oo: continue
        x=d[key][a:b][v[a:b]]
        if np.percentile(x,q)<T: o[i]=False
    return o
GRID={'bands':(('h15','h10'),(75,90),(0.002,0.003,0.005,0.01)),'bands300':(('hr','hr15'),(90,),(0.001,0.0015,0.002,0.003,0.005))}[MODE]
for key in GRID[0]:
 for q in GRID[1]:
  for T in GRID[2]:
    tot=op=ev=0; det=[]
    for nm,z in ns.items():
        v=base(z)&~z['spoken']; o=opened2(z,v,T,q,key); op+=o.sum(); r=runs(o); ev+=r
        if o.sum(): det.append(f'{nm}:{o.sum()}/{r}')
    row=f'{key} q{q} T{T} ns hops {op} runs {ev} |'
    allk=alln=0
    for k,(clips,voices) in sp.items():
        kept=n=0
        for d in clips:
            o=opened2(d,base(d),T,q,key); kept+=o.sum(); n+=len(o)
        if k!='whisper': allk+=kept; alln+=n
        row+=f' {k} {kept/n:.4f}'
    print(row+f' | all {allk/alln:.4f}',flush=True)
