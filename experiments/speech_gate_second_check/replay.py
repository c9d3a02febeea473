import numpy as np, sys
from pathlib import Path
SR=16000; F=512; HOP=8000; WIN=48000; MINW=8000
C=Path('/tmp/gate2/cache')
SP=('rvd','synth','suite-test','suite-holdout','whisper')
SPOKEN=('dammit.wav','damn.wav','excellent.wav','verygood.wav','wontgiveup.wav','goodidea.wav','letsgo.wav','ohno.wav','yipee.wav','audio-channel-')
def hops(nf):
    for end in range(HOP, nf*F+1, HOP):
        start=max(0,end-WIN)
        if end-start<MINW: continue
        yield -(-start//F), end//F, (end-start)/SR
def opened(v, mins=0.3, frac=0.15, R=1.0):
    cs=np.concatenate([[0],np.cumsum(v.astype(np.int32))]); rf=int(round(R*SR/F)); out=[]
    for a,b,w in hops(len(v)):
        n=cs[b]-cs[a]; f=n/max(1,b-a)
        out.append(bool(n>0 and f*w+1e-9>=min(mins,frac*w) and cs[b]-cs[max(a,b-rf)]>0))
    return np.array(out,bool)
def runs(o):
    return int(np.sum(o[1:]&~o[:-1])+(o[0] if len(o) else 0))
def load_ns():
    out={}
    for f in sorted(C.glob('*.npz')):
        if f.stem in SP: continue
        z=dict(np.load(f,allow_pickle=True)); n=len(z['p']); sp=np.zeros(n,bool)
        for name,a,b in z['files']:
            if any(s in name.split('/')[-1] for s in SPOKEN): sp[a:b]=True
        z['spoken']=sp; out[f.stem]=z
    return out
def load_sp():
    out={}
    for k in SP:
        z=np.load(C/f'{k}.npz',allow_pickle=True); out[k]=(list(z['clips']),list(z['voices']))
    return out
def evaluate(frame_ok, ns, sp, verbose=True):
    """frame_ok(d) -> bool array per frame (d: dict of arrays)."""
    tot=op=ev=0; det=[]
    for nm,z in ns.items():
        v=frame_ok(z)&~z['spoken']; o=opened(v); tot+=len(o); op+=o.sum(); r=runs(o); ev+=r
        if o.sum():
            # which files
            hit=set()
            for name,a,b in z['files']:
                if v[a:b].any() and any(o[max(0,(a*F)//HOP-6):(b*F)//HOP+1]): hit.add(name.split('/')[-1])
            det.append(f'{nm}:{o.sum()}/{r}{sorted(hit)[:6]}')
    row=f'ns hops {op}/{tot} runs {ev} |'
    allk=alln=0
    for k,(clips,voices) in sp.items():
        kept=n=wk=wn=0
        for d,vc in zip(clips,voices):
            o=opened(frame_ok(d)); kept+=o.sum(); n+=len(o)
            if 'whisper' in vc: wk+=o.sum(); wn+=len(o)
        if k!='whisper': allk+=kept; alln+=n
        row+=f' {k} {kept/max(1,n):.4f}'+(f' (wh {wk/max(1,wn):.3f}/{wn})' if wn else '')
    row+=f' | all {allk/alln:.4f}'
    print(row, ' '.join(det) if verbose else '', flush=True)
