"""nginx as a peer: Debian's nginx serving the article's answer, run as one bare process with its
own prefix and configuration, so it shares nothing with a system nginx.

One process (`master_process off`, `daemon off`, `worker_processes 1`): it serves on one core
like tinyweb's current-thread runtime, and its pid is the server (for RSS, affinity, SIGTERM).
Its access log is on in nginx's default `combined` format and written to /dev/null, as tinyweb's
access log is in the benchmarks; its error log goes to /dev/null.
"""

import atexit
import shutil
import subprocess
import tempfile
from pathlib import Path

CONFIG = """\
master_process off;
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log /dev/null;
events {{
    worker_connections 4096;
}}
http {{
    access_log /dev/null combined;
    default_type text/plain;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen {host}:{port} backlog=4096;
        location = / {{
            return 200 "Hello, World!";
        }}
    }}
}}
"""


def binary():
    """The nginx executable, or None if it is not installed."""
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )


def version():
    """`nginx -v`'s version, e.g. "nginx/1.22.1"."""
    done = subprocess.run([binary(), "-v"], capture_output=True, text=True)
    return (done.stderr or done.stdout).strip().rpartition(" ")[2] or None


def command(port, host="127.0.0.1", prefix=None):
    """The argv that runs nginx on host:port with a fresh prefix (a temporary directory unless
    given) holding its configuration."""
    nginx = binary()
    if nginx is None:
        raise RuntimeError("nginx is not installed (Debian: apt-get install nginx-light)")
    if prefix is None:
        prefix = tempfile.mkdtemp(prefix="tinyweb-nginx-")
        atexit.register(shutil.rmtree, prefix, True)
    prefix = Path(prefix)
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(CONFIG.format(prefix=prefix, host=host, port=port))
    return [nginx, "-p", f"{prefix}/", "-c", str(conf), "-e", "/dev/null"]
