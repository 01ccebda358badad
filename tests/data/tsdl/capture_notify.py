import re,sys
lines=open(sys.argv[1]).read().splitlines()
pending={}
events=[]
for l in lines:
    m=re.match(r'(\d+)\s+(.*)',l)
    if not m: continue
    pid,rest=m.groups()
    if rest.endswith('<unfinished ...>'):
        pending[pid]=rest[:-len('<unfinished ...>')]
        continue
    r=re.match(r'<\.\.\. (\w+) resumed>(.*)',rest)
    if r:
        rest=pending.pop(pid,'')+r.group(2)
    mm=re.match(r'recvmsg\((\d+), (.*)\) = (-?\d+)',rest)
    if not mm: continue
    fd,body,ret=mm.groups(); ret=int(ret)
    if ret<=0: continue
    data=b''.join(bytes.fromhex(x.replace('\\x','')) for x in re.findall(r'iov_base="((?:\\x[0-9a-f]{2})*)"',body))
    events.append((pid,int(fd),data[:ret]))
# find notify fds: 136-byte reg msg with socket type 1
import struct
notify=set()
for pid,fd,d in events:
    if len(d)==136 and struct.unpack_from('<I',d,0)[0]==0xC57C57C5 and struct.unpack_from('<I',d,52)[0]==1:
        notify.add(fd); print('notify fd',fd,'pid',struct.unpack_from('<i',d,12)[0], file=sys.stderr)
out=open(sys.argv[2],'w')
out.write('# lttng-sessiond reads on app notify sockets (strace -xx), one read per line: <fd> <hex>\n')
for pid,fd,d in events:
    if fd in notify:
        out.write('%d %s\n'%(fd,d.hex()))
        print(fd,len(d),d[:16].hex(), file=sys.stderr)
