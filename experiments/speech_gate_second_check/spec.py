import sys, numpy as np, soundfile as sf, matplotlib
matplotlib.use('Agg'); import matplotlib.pyplot as plt
paths=sys.argv[2:]; fig,axs=plt.subplots(len(paths),1,figsize=(12,2.6*len(paths)))
for ax,p in zip(np.atleast_1d(axs),paths):
    x,r=sf.read(p,always_2d=True); x=x.mean(1)
    ax.specgram(x,NFFT=1024,Fs=r,noverlap=768,cmap='magma',vmin=-120); ax.set_ylim(0,6000); ax.set_title(p.split('/')[-1]+f' {len(x)/r:.2f}s')
plt.tight_layout(); plt.savefig(sys.argv[1],dpi=70)
