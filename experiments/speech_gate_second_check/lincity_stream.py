import sys, numpy as np
sys.path.insert(0,'/work/main'); sys.path.insert(0,'/work/main/benchmarks')
import bench_speech_gate as b
from pathlib import Path
import slap_edge.runtime.gate as G
groups=b.nonspeech_groups(Path('/tmp/nonspeech-all'),[],600.0)
items=[x for x in groups if x[0]=='debian:lincity-ng-data#2'][0][2]
spans=[];x=[];pos=0
for i in items:
    a=np.concatenate([b._load(i,16000),np.zeros(8000,np.float32)]); spans.append((pos,pos+len(a),i.name)); pos+=len(a); x.append(a)
x=np.concatenate(x)
orig=G.frame_noise
def full_den(frames, sr):
    noise,_=orig(frames,sr)
    f=frames.shape[1]; X=np.fft.rfft((frames-frames.mean(1,keepdims=True))*np.hanning(f),axis=1); P=np.abs(X)**2+1e-12
    fr=np.fft.rfftfreq(f,1/sr); return noise,(P[:,fr>=2000].sum(1)/P.sum(1)).astype(np.float32)
for name,fn in (('cut-all',orig),('full-denominator high share',full_den)):
    G.frame_noise=fn
    d=b.gate_decisions({'kind':'vad','vad_noise_check':True},x,16000,8000,48000,8000)
    ends=[(k+1)*8000 for k in range(len(d))]  # min_window=8000 -> first hop end 8000
    hit=sorted({n for e,o in zip(ends,d) if o for a,bb,n in spans if a<e and bb>e-48000})
    print(name,sum(d),hit)
G.frame_noise=orig
import importlib
tr=G.VadGate().create_tracker(16000)
# old features (v2 code) for comparison
def old_fn(frames,sr):
    f=frames.shape[1]; x=frames.astype(np.float64)
    db=10*np.log10(np.maximum(np.mean(x*x,1),1e-20)); fr=np.fft.rfftfreq(f,1/sr)
    P=np.abs(np.fft.rfft(x*np.hanning(f),axis=1))**2+1e-12; tot=P.sum(1); cen=(P@fr)/tot; hi=P[:,fr>=2000].sum(1)/tot
    y=x-x.mean(1,keepdims=True); ac=np.fft.irfft(np.abs(np.fft.rfft(y,n=2*f,axis=1))**2,axis=1)
    lags=slice(40,266); unb=(f/np.maximum(f-np.arange(f),1))[lags]; voi=(ac[:,lags]*unb).max(1)/np.maximum(ac[:,0],1e-12)
    return (db>-20)&(voi<0.6)&(cen<1000),hi.astype(np.float32),db,voi,cen
for end in range(8000,len(x)+1,8000):
    start=max(0,end-48000); s=tr.speech(x[start:end],start); o=tr.is_open(s,(end-start)/16000)
    if o:
        a=-(-start//512); bb=end//512; k=np.arange(a,bb)%4096; v=tr._probs[k]>=0.5
        fr=x[a*512:bb*512].reshape(-1,512)
        on,oh,db,voi,cen=old_fn(fr,16000); nn,nh=orig(fr,16000)
        sel=v
        print(end/16000,'voiced',v.sum(),'old-noise',(on&v).sum(),'new-noise',(nn&v).sum(),'hi90 old-set %.4f'%np.percentile(oh[v&~on],90) if (v&~on).any() else '-', 'hi90 new-set %.4f'%np.percentile(nh[v&~nn],90))
        if end/16000<300:
            idx=np.where(v&~nn&on)[0]; print('   frames new-kept old-flagged: db',db[idx].round(1),'voi',voi[idx].round(2),'cen',cen[idx].round(0),'hi',oh[idx].round(4))
