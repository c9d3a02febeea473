import numpy as np, sys
exec(open('/tmp/gate2/replay.py').read().replace("C=Path('/tmp/gate2/cache')","C=Path('/tmp/gate2/cache2')"))
def st(d):
    p=d['p']; v=p>=0.5; o=opened(v); out=[]
    for (a,b,w),oo in zip(hops(len(p)),o):
        if not oo: continue
        idx=np.arange(a,b)[v[a:b]&(d['voi'][a:b]>=0.6)]
        if len(idx)<4: out.append(np.nan); continue
        lf=np.log2(d['f0'][idx].astype(np.float64)); dd=np.abs(np.diff(lf)); dd=dd[dd<0.5]  # drop octave jumps
        out.append(float(np.median(dd)*12) if len(dd) else np.nan)
    return out
for k in ('suite-test','rvd','synth','suite-holdout','whisper'):
    z=np.load(C/f'{k}.npz',allow_pickle=True); S=np.array([s for d in z['clips'] for s in st(d)]); S=S[~np.isnan(S)]
    print(k,len(S),'semitone step pct 1/2/5/10/50',np.percentile(S,[1,2,5,10,50]).round(3))
z=dict(np.load(C/'lincity-ng-data.npz',allow_pickle=True))
for name,a,b in z['files']:
    if 'PowerSolar3' in name or 'Substation3' in name:
        d={k:z[k][a:b] for k in ('p','voi','f0')}; print(name.split('/')[-1], np.round(st(d),3))
