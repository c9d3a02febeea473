import numpy as np
from pathlib import Path
exec(open('/tmp/gate2/replay.py').read())
ns=load_ns(); sp=load_sp()
def lu(d): return ~((d['db']>-20)&(d['voi']<0.6)&(d['cen']<1000))
def base(d): return (d['p']>=0.5)&lu(d)
def opened2(d,v,T,q):
    o=opened(v)
    for i,((a,b,w),oo) in enumerate(zip(hops(len(v)),o)):
        if not oo: continue
        x=d['hi'][a:b][v[a:b]]
        if np.percentile(x,q)<T: o[i]=False
    return o
for q in (90,100):
  for T in (0.0,0.0015,0.002,0.003,0.005):
    tot=op=ev=0; det=[]
    for nm,z in ns.items():
        v=base(z)&~z['spoken']; o=opened2(z,v,T,q); op+=o.sum(); r=runs(o); ev+=r
        if o.sum(): det.append(f'{nm}:{o.sum()}/{r}')
    row=f'q{q} T{T} ns hops {op} runs {ev} {det} |'
    allk=alln=0
    for k,(clips,voices) in sp.items():
        kept=n=0
        for d in clips:
            o=opened2(d,base(d),T,q); kept+=o.sum(); n+=len(o)
        if k!='whisper': allk+=kept; alln+=n
        row+=f' {k} {kept/n:.4f}'
    print(row+f' | all {allk/alln:.4f}',flush=True)
