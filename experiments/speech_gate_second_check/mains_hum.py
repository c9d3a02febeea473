"""Speech under mains hum: speech hops kept by the VAD gate with and without its noise check."""
import sys, json
from pathlib import Path
import numpy as np
sys.path.insert(0,'/work/main'); sys.path.insert(0,'/work/main/benchmarks')
import bench_speech_gate as b
SR=16000
def rows(folder, n):
    man=Path(folder)/'clips.jsonl'
    rs=[json.loads(l) for l in man.read_text().splitlines() if l.strip()]
    rs=list({r['path']:r for r in rs}.values())
    return [Path(folder)/rs[i*len(rs)//n]['path'] for i in range(n)]
clips={'suite-test':rows('/work/main/work-data/default/suite-test',60),'real-voice-dev':rows('/work/main/work-data/real-voice-dev/suite',60)}
def hum(n, f0=50.0):
    t=np.arange(n)/SR
    return sum(np.sin(2*np.pi*f0*k*t+k)/k for k in (1,2,3,4)).astype(np.float32)
for src,paths in clips.items():
    xs=[b._load(p,SR) for p in paths]
    for rel in (None,-10.0,0.0,10.0,20.0):
        kept={}
        for nc in (True,False):
            k=n=0
            for x in xs:
                if rel is None: y=x
                else:
                    h=hum(len(x)); ps=np.sqrt(np.mean(x**2)); ph=np.sqrt(np.mean(h**2))
                    y=x+h*(ps/ph)*10**(rel/20)
                    y=(y/max(1.0,np.abs(y).max())).astype(np.float32)
                d=b.gate_decisions({'kind':'vad','vad_noise_check':nc},y,SR,8000,48000,8000); k+=sum(d); n+=len(d)
            kept[nc]=k/n
        print(src, 'no hum' if rel is None else f'hum {rel:+.0f} dB re speech', f'kept with check {kept[True]:.3f} without {kept[False]:.3f}', flush=True)
