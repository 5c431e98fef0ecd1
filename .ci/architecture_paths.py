#!/usr/bin/env python3
# Run from the repository root: python3 .ci/architecture_paths.py
"""Every path ARCHITECTURE.md names must exist in the tree: each token that
looks like a file (x.rs, x.md, x.proto, ...) or a directory (a/b/) is looked
up among the tracked files, as a suffix of some path (so `src/config/` next
to the server's entry matches crates/server/src/config/); `<backend>` stands
for each of sqlite, postgres, mysql."""
import re,subprocess,sys
root=sys.argv[1] if len(sys.argv)>1 else '.'
files=subprocess.run(['git','-C',root,'ls-files','--cached','--others','--exclude-standard'],capture_output=True,text=True).stdout.split()
dirs=set()
for f in files:
    parts=f.split('/')
    for i in range(1,len(parts)):
        dirs.add('/'.join(parts[:i])+'/')
text=open(f'{root}/ARCHITECTURE.md').read()
tokens=set(re.findall(r'(?<![\w/:.])((?:[\w.<>-]+/)+(?:[\w.<>-]+\.(?:rs|md|proto|toml|sh|lock))?|[\w-]+\.(?:rs|md|proto|toml|sh|lock))(?![\w])',text))
missing=[]
for tok in sorted(tokens):
    if tok.startswith(('v1/','http')) or '://' in tok: continue
    # Runtime paths (`<data_dir>/mail/`) name no file in the tree.
    if tok.startswith('<data_dir>'): continue
    variants=[tok.replace('<backend>',b) for b in ('sqlite','postgres','mysql')] if '<backend>' in tok else [tok]
    for v in variants:
        pool=dirs if v.endswith('/') else files
        if not any(p==v or p.endswith('/'+v) for p in pool):
            missing.append(v)
print(f'{len(tokens)} path mentions checked, {len(missing)} missing')
for m in missing: print('  missing:',m)
sys.exit(1 if missing else 0)
