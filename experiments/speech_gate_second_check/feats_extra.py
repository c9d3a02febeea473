"""Extra per-frame features aligned with /tmp/gate2/cache frames (512 samples at 16 kHz).

    python feats_extra.py MODE [ns]     MODE: stationarity (c1-c4, cache /tmp/gate3/cache), bands (h15, h10: share
                                        of energy >= 1.5 / 1 kHz; /tmp/gate3/cacheh), bands300 (hr, hr15: shares of
                                        the energy >= 300 Hz; /tmp/gate3/cacher); ns: the sound packages, else speech
"""
import sys
from pathlib import Path
import numpy as np
argv0=list(sys.argv); MODE=argv0[1]
sys.argv=[sys.argv[0],'x','/tmp/gate3/none']  # feats.py parses argv at import; neutralise
exec(open('/tmp/gate2/feats.py').read().split("mode=sys.argv[1]")[0])
C=Path('/tmp/gate2/cache'); OUT=Path({'stationarity':'/tmp/gate3/cache','bands':'/tmp/gate3/cacheh','bands300':'/tmp/gate3/cacher'}[MODE]); OUT.mkdir(parents=True,exist_ok=True)
FOLD={'rvd':'/work/main/work-data/real-voice-dev/suite','synth':'/tmp/gate-speech','suite-test':'/work/main/work-data/default/suite-test','suite-holdout':'/work/main/work-data/default/suite-holdout','whisper':'/'}
B=(FR>=100)&(FR<=4000)
def spec(x):
    n=x.shape[0]//F; fr=x[:n*F].reshape(n,F).astype(np.float32)
    S=np.abs(np.fft.rfft(fr*W,axis=1))**2+(1e-10 if MODE=='stationarity' else 1e-12)
    if MODE=='bands': return {'h15':(S[:,FR>=1500].sum(1)/S.sum(1)).astype(np.float32),'h10':(S[:,FR>=1000].sum(1)/S.sum(1)).astype(np.float32)}
    if MODE=='bands300': return {'hr':(S[:,FR>=2000].sum(1)/S[:,FR>=300].sum(1)).astype(np.float32),'hr15':(S[:,FR>=1500].sum(1)/S[:,FR>=300].sum(1)).astype(np.float32)}
    L=np.log(S[:,B]); L=L-L.mean(1,keepdims=True)
    L=L/np.maximum(np.linalg.norm(L,axis=1,keepdims=True),1e-9)
    out={}
    for d in (1,2,3,4):
        c=np.full(n,np.nan,np.float32)
        if n>d: c[d:]=(L[d:]*L[:-d]).sum(1)
        out[f'c{d}']=c
    return out
for k,fold in ([] if 'ns' in argv0 else FOLD.items()):
    z=np.load(C/f'{k}.npz',allow_pickle=True); res=[]
    for path,d in zip(z['paths'],z['clips']):
        x=load(Path(fold)/path); s=spec(x); k0=next(iter(s)); assert len(s[k0])==len(d['p']),(path,len(s[k0]),len(d['p'])); res.append(s)
    np.savez(OUT/f'{k}.npz',clips=np.array(res,dtype=object)); print(k,len(res),flush=True)
for pkg in (['lincity-ng-data','chromium-bsu-data','frozen-bubble-data','opencity-data','xmoto-data','extremetuxracer-data','bzflag-data','oxygen-sounds'] if MODE=='stationarity' else ['lincity-ng-data']):
    z=np.load(C/f'{pkg}.npz',allow_pickle=True); xs=[]; carry=np.zeros(0,np.float32); pos=0; parts=list(z['parts']) if 'parts' in z.files else []
    held=0.0
    for name,a,b in z['files']:
        f=Path(name)
        held+=sf.info(str(f)).duration+0.5
        x=np.concatenate([carry, load(f), np.zeros(SR//2,np.float32)]); n=x.shape[0]//F
        assert pos==a,(name,pos,a)
        xs.append(x[:n*F]); carry=x[n*F:]; pos+=n
    X=np.concatenate(xs); assert len(X)//F==len(z['p']); s=spec(X)
    np.savez(OUT/f'{pkg}.npz',**s); print(pkg,flush=True)
