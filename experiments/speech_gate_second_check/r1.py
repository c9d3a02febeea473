exec(open('/tmp/gate2/replay.py').read())
ns=load_ns(); sp=load_sp()
evaluate(lambda d: d['p']>=0.5, ns, sp)
