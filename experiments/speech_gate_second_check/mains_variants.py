"""Noise-check variants: features blind to energy below LOWCUT Hz; voicing down to MINF0 Hz."""
import sys, json, glob, itertools
from pathlib import Path
import numpy as np
sys.path.insert(0,'/work/main'); sys.path.insert(0,'/work/main/benchmarks')
import bench_speech_gate as b
import slap_edge.runtime.gate as G
SR=16000
def make(lowcut, minf0, loud=-20.0, unv=0.6, cen_hz=1000.0, mhs=0.0015):
    def frame_noise(frames, sample_rate):
        n,f=frames.shape
        if n==0: return np.zeros(0,bool),np.zeros(0,np.float32)
        x=frames.astype(np.float64); freqs=np.fft.rfftfreq(f,1/sample_rate); keep=freqs>=lowcut
        X=np.fft.rfft(x*np.hanning(f),axis=1); P=np.abs(X)**2+1e-12
        Pk=P[:,keep]; fk=freqs[keep]; tot=Pk.sum(1)
        # loudness of the kept band: Parseval on the unwindowed frame
        Xu=np.fft.rfft(x,axis=1); Pu=np.abs(Xu)**2; Pu[:,1:-1]*=2
        db=10*np.log10(np.maximum(Pu[:,keep].sum(1)/f/f,1e-20))
        cen=(Pk@fk)/tot; high=P[:,freqs>=2000].sum(1)/P.sum(1)
        Y=np.fft.rfft(x-x.mean(1,keepdims=True),n=2*f,axis=1); f2=np.fft.rfftfreq(2*f,1/sample_rate); Y[:,f2<lowcut]=0
        ac=np.fft.irfft(np.abs(Y)**2,axis=1)
        lags=slice(int(sample_rate/400),int(sample_rate/minf0)); unb=(f/np.maximum(f-np.arange(f),1))[lags]
        voi=(ac[:,lags]*unb).max(1)/np.maximum(ac[:,0],1e-12)
        return (db>loud)&(voi<unv)&(cen<cen_hz), high.astype(np.float32)
    return frame_noise
def rows(folder, n):
    man=Path(folder)/'clips.jsonl'
    if not man.exists(): man=Path(folder)/'manifest.jsonl'
    rs=[json.loads(l) for l in man.read_text().splitlines() if l.strip()]
    rs=list({r['path']:r for r in rs}.values())
    return [Path(folder)/rs[i*len(rs)//n]['path'] for i in range(n)]
def hum(n, f0=50.0):
    t=np.arange(n)/SR
    return sum(np.sin(2*np.pi*f0*k*t+k)/k for k in (1,2,3,4)).astype(np.float32)
def mix(x,rel):
    h=hum(len(x)); y=x+h*(np.sqrt(np.mean(x**2))/np.sqrt(np.mean(h**2)))*10**(rel/20)
    return (y/max(1.0,np.abs(y).max())).astype(np.float32)
def kept(ys):
    k=n=0
    for y in ys:
        d=b.gate_decisions({'kind':'vad','vad_noise_check':True},y,SR,8000,48000,8000); k+=sum(d); n+=len(d)
    return k/n
ls=sorted(glob.glob('/tmp/nonspeech/lincity-ng-data/**/PowerSolar*.wav',recursive=True)+glob.glob('/tmp/nonspeech/chromium-bsu-data/**/boom.wav',recursive=True))
bad=np.concatenate([np.concatenate([b._load(Path(f),SR),np.zeros(8000,np.float32)]) for f in ls])
N=int(sys.argv[1]) if len(sys.argv)>1 else 40
sets={'suite-test':[b._load(p,SR) for p in rows('/work/main/work-data/default/suite-test',N)],
      'suite-holdout':[b._load(p,SR) for p in rows('/work/main/work-data/default/suite-holdout',N)],
      'rvd':[b._load(p,SR) for p in rows('/work/main/work-data/real-voice-dev/suite',N)],
      'synth':[b._load(p,SR) for p in rows('/tmp/gate-speech',N)]}
variants=[(0,60),(150,60),(150,45),(0,45),(250,45),(120,45)]
if len(sys.argv)>2: variants=[tuple(map(float,v.split(':'))) for v in sys.argv[2:]]
for lc,mf in variants:
    G.frame_noise=make(lc,mf)
    d=b.gate_decisions({'kind':'vad','vad_noise_check':True},bad,SR,8000,48000,8000)
    out=[f'lowcut {lc} minf0 {mf}: boom+PowerSolar hops {sum(d)}']
    for k,xs in sets.items(): out.append(f'{k} {kept(xs):.3f}')
    for rel in (0.0,10.0): out.append(f'hum{rel:+.0f}: st {kept([mix(x,rel) for x in sets["suite-test"]]):.3f} rvd {kept([mix(x,rel) for x in sets["rvd"]]):.3f}')
    print(' | '.join(out),flush=True)
