#!/bin/sh
# A stand-in for Grafana Alloy in finchctl's agent tests (no registry this test machine reaches
# ships Alloy): it answers --version, and for `run` it checks that it can read its config, as
# the unit's user, then serves HTTP on Alloy's default UI address until it is stopped.
case "$1" in
--version) echo "alloy, version v1.18.0 (finch test stand-in)"; exit 0 ;;
run) ;;
*) echo "alloy stand-in: unsupported arguments: $*" >&2; exit 2 ;;
esac
storage= config=
for arg; do
    case $arg in
    --storage.path=*) storage=${arg#*=} ;;
    -*) ;;
    *) config=$arg ;;
    esac
done
if ! [ -r "$config" ]; then echo "alloy stand-in: cannot read $config" >&2; exit 1; fi
mkdir -p "$storage"
cd "$storage" || exit 1
# python3-minimal has no http.server: a few lines of socket answer every request with 200.
# Several agents on one host (--agent.prefix) cannot all have 12345: the others take any port.
exec python3 -c '
import socket
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    server.bind(("127.0.0.1", 12345))
except OSError:
    server.bind(("127.0.0.1", 0))
server.listen(16)
while True:
    conn, _ = server.accept()
    conn.recv(4096)
    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 14\r\n\r\nAlloy stand-in")
    conn.close()
'
