exec(open('/tmp/gate2/replay.py').read())
ns=load_ns(); sp=load_sp()
rules={
 'base': lambda d: d['p']>=0.5,
 'cen>=400|voi>=.6': lambda d: (d['p']>=0.5)&((d['cen']>=400)|(d['voi']>=0.6)),
 'not(loud&unvoiced&lowcen)': lambda d: (d['p']>=0.5)&~((d['db']>-20)&(d['voi']<0.6)&(d['cen']<1000)),
 'not(unvoiced&lowcen<700)': lambda d: (d['p']>=0.5)&~((d['voi']<0.6)&(d['cen']<700)),
}
for k,f in rules.items():
    print(k, end=': '); evaluate(f, ns, sp)
