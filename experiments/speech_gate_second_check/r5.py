import numpy as np, sys
from pathlib import Path
exec(open('/tmp/gate2/replay.py').read().replace("C=Path('/tmp/gate2/cache')","C=Path('/tmp/gate2/cache2')"))
def winstats(d, t=0.5):
    p=d['p']; v=p>=t; lb=d['lb'].astype(np.float32) if 'lb' in d else None
    o=opened(v); res=[]
    for (a,b,w),oo in zip(hops(len(p)),o):
        if not oo: res.append(None); continue
        idx=np.arange(a,b)[v[a:b]]
        L=lb[idx]; L=L-L.mean(1,keepdims=True)
        V=float(L.std(0).mean())
        voi=d['voi'][idx]; cen=d['cen'][idx]
        res.append((V, float((voi>=0.6).mean()), float(np.median(cen)), float(np.median(d['db'][idx]))))
    return res
which=sys.argv[1:]
for k in which:
    f=C/f'{k}.npz'
    z=np.load(f,allow_pickle=True)
    if 'clips' in z:
        labels=z['labels'] if 'labels' in z else [None]*len(z['clips'])
        S=[s for d,l in zip(z['clips'],labels) for s in winstats(d) if s is not None and (l is None or 'whisper_vs_normal:whisper' in l or k!='whisper')]
        S=np.array(S); print(k, len(S), 'V pct', np.percentile(S[:,0],[1,2,5,10,25,50]).round(3), 'voicedfrac pct', np.percentile(S[:,1],[1,5,10,25,50]).round(2))
    else:
        z=dict(z); sp=np.zeros(len(z['p']),bool)
        for name,a,b in z['files']:
            if any(s in name.split('/')[-1] for s in SPOKEN): z['p'][a:b]=0
        ws=winstats(z); hl=list(hops(len(z['p'])))
        for (a,b,w),s in zip(hl,ws):
            if s is None: continue
            fs=[n.split('/')[-1] for n,fa,fb in z['files'] if fa<b and fb>a and (z['p'][max(a,fa):min(b,fb)]>=0.5).any()]
            print(k, round(b*F/SR,1), 'V=%.3f voiced=%.2f cen=%.0f db=%.1f'%s, fs)
