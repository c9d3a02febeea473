import numpy as np
from pathlib import Path
exec(open('/tmp/gate2/replay.py').read())
C3=Path('/tmp/gate3/cache')
ns=load_ns(); sp=load_sp()
for nm in list(ns):
    f=C3/f'{nm}.npz'
    if f.exists(): ns[nm].update(dict(np.load(f)))
    else: del ns[nm]
for k in sp:
    z=np.load(C3/f'{k}.npz',allow_pickle=True)
    for d,s in zip(sp[k][0],z['clips']): d.update(s)
def lu(d): return ~((d['db']>-20)&(d['voi']<0.6)&(d['cen']<1000))
def base(d): return (d['p']>=0.5)&lu(d)
def wstat(d,v,key,q=50):
    out=[]
    o=opened(v)
    for (a,b,w),oo in zip(hops(len(v)),o):
        if not oo: out.append(np.nan); continue
        c=d[key][a:b]; m=v[a:b].copy(); 
        dd=int(key[1:]); m2=m.copy(); m2[dd:]&=m[:-dd]; m2[:dd]=False
        x=c[m2]; x=x[~np.isnan(x)]
        out.append(np.percentile(x,q) if len(x)>=3 else np.nan)
    return np.array(out)
for key in ('c1','c2','c3','c4'):
  for q in (50,25):
    print('==',key,'q',q)
    for nm,z in ns.items():
        v=base(z)&~z['spoken']; s=wstat(z,v,key,q); o=~np.isnan(s)
        if o.sum(): print('  ns',nm,np.round(np.sort(s[o]),2))
    for k,(clips,voices) in sp.items():
        S=np.concatenate([wstat(d,base(d),key,q) for d in clips]); S=S[~np.isnan(S)]
        print('  sp',k,len(S),'pct 50/90/95/99/99.5/max',np.percentile(S,[50,90,95,99,99.5,100]).round(3))
