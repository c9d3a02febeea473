import numpy as np, sys
from pathlib import Path
for f in sorted(Path('cache').glob('*.npz')):
    if f.stem in ('rvd','synth','suite-test','suite-holdout'): continue
    z=np.load(f,allow_pickle=True)
    for name,a,b in z['files']:
        p=z['p'][a:b]; n=(p>=0.5).sum()
        if n>=3: print(f.stem, name.split('/')[-1], n, round(n*0.032,2),'s', 'maxrun', max((len(r) for r in ''.join('1' if v else '0' for v in p>=0.5).split('0')),default=0))
