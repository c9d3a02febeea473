"""Cache Silero frame probs + cheap per-frame audio features (frames of 512 at 16 kHz)."""
import json, sys, time
from pathlib import Path
import numpy as np, soundfile as sf
from feats import SR, F, load, feats  # the first pass's loader and features
mode=sys.argv[1]; out=Path(sys.argv[2]); out.mkdir(parents=True,exist_ok=True)
if mode=='nonspeech':
    for pkg in sorted(Path(sys.argv[3]).iterdir()):
        if (out/f'{pkg.name}.npz').exists(): continue
        t=time.time(); old=np.load(f'cache/{pkg.name}.npz',allow_pickle=True); p=old['p']; N=len(p)
        D=None; carry=0
        for name,a,b in old['files']:
            f=Path(name); info=sf.info(name); L=int(round(info.frames*SR/info.samplerate))
            xl=carry+L+SR//2; n=xl//F; assert n==b-a or abs(n-(b-a))<=1, (name,n,b-a)
            if (p[a:b]>=0.3).any():
                x=np.concatenate([np.zeros(carry,np.float32),load(f),np.zeros(SR//2,np.float32)])
                m=min(b-a, x.shape[0]//F); d=feats(x[:m*F])
                if D is None: D={k:np.full((N,)+v.shape[1:],np.nan,v.dtype) for k,v in d.items()}
                for k,v in d.items(): D[k][a:a+m]=v
            carry=xl-n*F
        if D is None: D={}
        np.savez(out/f'{pkg.name}.npz',p=p,files=old['files'],**D)
        print(pkg.name,round(N*F/SR/60,1),'min',round(time.time()-t,1),'s',flush=True)
else:
    folder=Path(sys.argv[3]); name=sys.argv[4]; limit=int(sys.argv[5]) if len(sys.argv)>5 else 10**9
    man=folder/'manifest.jsonl'
    if not man.exists(): man=folder/'clips.jsonl'
    rows=list({r['path']:r for r in (json.loads(l) for l in man.read_text().splitlines() if l.strip())}.values())
    if len(rows)>limit: rows=[rows[i*len(rows)//limit] for i in range(limit)]
    res=[]; old=np.load(f'cache/{name}.npz',allow_pickle=True)['clips']
    for r,o in zip(rows,old):
        x=load(folder/r['path']); d=feats(x); d['p']=o['p']; assert len(d['p'])==len(d['db']); res.append(d)
    np.savez(out/f'{name}.npz',clips=np.array(res,dtype=object),paths=np.array([r['path'] for r in rows]),voices=np.array([str(r.get('voice',r.get('speaker',''))) for r in rows]),labels=np.array([str(r.get('task',''))+':'+str(r.get('label','')) for r in rows]))
    print(name,len(res),round(sum(len(d['p']) for d in res)*F/SR/60,1),'min',flush=True)
