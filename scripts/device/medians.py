import json,glob,statistics,sys
for d in sys.argv[1:]:
    print("==",d)
    for f in sorted(glob.glob(d+'/*.json')):
        j=json.load(open(f))
        res=j['results']
        rows={}
        for r in (res if isinstance(res,list) else res.values()):
            name=r.get('baseline') or r.get('name') or r.get('implementation')
            lat=[x.get('latency_ms') for x in r.get('runs',[]) if isinstance(x,dict) and x.get('latency_ms') is not None]
            if lat: rows[name]=(statistics.mean(lat),statistics.median(lat))
        if not rows:
            print(f, json.dumps(res)[:300]); continue
        nat=rows.get('native'); pt=rows.get('native_pytorch'); fd=rows.get('full_djinn')
        out=j['workload']+": "+", ".join(f"{k} {v[0]:.2f}/{v[1]:.2f}" for k,v in rows.items())
        if fd and pt: out+=f" | full/pt mean {fd[0]/pt[0]:.2f} median {fd[1]/pt[1]:.2f}"
        if fd and nat: out+=f" | full-native mean {fd[0]-nat[0]:+.2f} median {fd[1]-nat[1]:+.2f}"
        print(out)
