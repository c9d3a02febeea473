exec(open('lin.py').read().split("orig=G.frame_noise")[0])
orig=G.frame_noise
tr=G.VadGate().create_tracker(16000)
for end in range(8000,278*16000+1,8000):
    start=max(0,end-48000); s=tr.speech(x[start:end],start)
a=-(-start//512); bb=end//512; k=np.arange(a,bb)%4096; v=tr._probs[k]>=0.5
fr=x[a*512:bb*512].reshape(-1,512)[v].astype(np.float64)
f=512; F=np.fft.rfftfreq(f,1/16000)
P0=np.abs(np.fft.rfft(fr*np.hanning(f),axis=1))**2+1e-12
P1=np.abs(np.fft.rfft((fr-fr.mean(1,keepdims=True))*np.hanning(f),axis=1))**2+1e-12
print('old share', np.round(P0[:,F>=2000].sum(1)/P0.sum(1),4))
print('demeaned full', np.round(P1[:,F>=2000].sum(1)/P1.sum(1),4))
print('demeaned >=120', np.round(P1[:,F>=2000].sum(1)/P1[:,F>=120].sum(1),4))
print('frame mean', np.round(fr.mean(1),4), 'rms', np.round(np.sqrt((fr**2).mean(1)),4))
print('files', [n for a_,b_,n in spans if a_<end and b_>end-48000])
