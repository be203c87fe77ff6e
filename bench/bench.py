#!/usr/bin/env python3
"""latchkey's load benchmark (driven by bench/run.sh).

Starts the release binary on loopback with a bench config (limits out of the way,
default scrypt), prepares users and tokens, drives every scenario with wrk (Lua scripts
in bench/lua), measures the machine's bounds with `latchkey bench-bounds`, and writes a
markdown table to bench/results/latest.md (and stdout).

The PostgreSQL backend runs the same sign-in, refresh and /users/me scenarios on a
throwaway local server (Debian's postgresql package, synchronous_commit on).

usage: bench.py [--smoke] [--no-big] [--firebase-only]   (--smoke: 1 s per scenario, for CI)
"""
import base64
import concurrent.futures as cf
import glob
import http.client
import json
import socket
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "latchkey")
SMOKE = "--smoke" in sys.argv
BIG = not SMOKE and "--no-big" not in sys.argv
DURATION = 1 if SMOKE else 10
WARMUP = 0 if SMOKE else 2
CONNS = 64
THREADS = 2
USERS = 16 if SMOKE else 64
ROTATIONS = 4 if SMOKE else 40  # distinct access tokens per family
FAMILIES = 4  # refresh families per user (several per connection, see bench/lua/refresh.lua)

CONFIG = """
[server]
listen = "127.0.0.1:0"
request_timeout = 60
[storage]
path = "{dir}/bench.redb"
[limits]
per_ip_per_minute = 0
lockout_failures = 1000000000
lockout_failures_total = 1000000000
[admin]
listen = "127.0.0.1:0"
token = "bench-admin-token-0123456789"
[tokens]
issuer = "http://bench.latchkey.test"
[[oidc.clients]]
id = "bench"
secret = "bench-secret-0123456789"
redirect_uris = ["http://127.0.0.1:9/cb"]
[[oidc.clients]]
id = "bench-es"
secret = "bench-secret-0123456789"
redirect_uris = ["http://127.0.0.1:9/cb"]
id_token_alg = "ES256"
[log]
format = "human"
[access]
default_policy = "deny"
"""
# 50 access rules, the last matching the forward-auth row's app (bench/lua/forward.lua).
CONFIG += "".join(
    f'[[access.rules]]\ndomain = ["app{i}.bench.test"]\nresources = ["^/x{i}/"]\npolicy = "one_factor"\n'
    for i in range(49)) + '[[access.rules]]\ndomain = ["*.bench.test"]\npolicy = "one_factor"\n'


class Server:
    def __init__(self, workdir, env=None):
        self.workdir = workdir
        self.env = env or {}
        self.proc = None

    def start(self, log_requests=False):
        env = dict(os.environ, RUST_LOG="info" if log_requests else "warn", **self.env)
        self.log = open(os.path.join(self.workdir, "server.log"), "w")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([BIN, "--config", os.path.join(self.workdir, "auth.toml"), "serve"],
                                     stdout=subprocess.PIPE, stderr=self.log, env=env, text=True)
        for line in self.proc.stdout:
            if line.startswith("latchkey admin listening on "):
                self.admin = line.split()[-1]
            if line.startswith("latchkey listening on "):
                self.base = line.split()[-1]
                break
        self.startup_s = time.monotonic() - t0
        return self

    def stop(self):
        self.proc.terminate()
        self.proc.wait(60)
        self.log.close()

    def rss_mb(self, field="VmRSS"):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self):
        """The server's own CPU time so far (user + system), from /proc."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reset_peak(self):
        try:
            with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


def call(base, method, path, body=None, headers=None, form=False):
    data = None
    h = dict(headers or {})
    if body is not None:
        if form:
            data = body.encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def wait_idle(server):
    """Until no hash is queued (work of a previous scenario's clients is over)."""
    for _ in range(100):
        req = urllib.request.Request(server.admin + "/admin/stats",
                                     headers={"Authorization": "Bearer bench-admin-token-0123456789"})
        with urllib.request.urlopen(req, timeout=10) as r:
            if json.loads(r.read())["hash_queue"] == 0:
                break
        time.sleep(0.1)
    time.sleep(0.3)


def wrk(server, script, args=(), conns=CONNS, duration=DURATION, warmup=WARMUP):
    wait_idle(server)
    cmd_base = ["wrk", "-t", str(THREADS), "-c", str(conns), "--latency", "-s", os.path.join("bench/lua", script)]
    if warmup:
        subprocess.run(cmd_base + ["-d", f"{warmup}s", server.base, "--", *args], cwd=ROOT, capture_output=True)
        wait_idle(server)
    server.reset_peak()
    cpu_before = server.cpu_seconds()
    out = subprocess.run(cmd_base + ["-d", f"{duration}s", server.base, "--", *args], cwd=ROOT,
                         capture_output=True, text=True)
    cpu = server.cpu_seconds() - cpu_before
    m = re.search(r"^BENCH (\{.*\})$", out.stdout, re.M)
    if not m:
        raise SystemExit(f"wrk {script} failed:\n{out.stdout}\n{out.stderr}")
    r = json.loads(m.group(1))
    r["rss_mb"] = server.rss_mb("VmHWM")
    r["conns"] = conns
    # The server's CPU per request answered (wrk's own CPU is not in it).
    requests = r["rps"] * duration
    r["cpu_us"] = cpu * 1e6 / requests if requests else 0.0
    return r


def postgres():
    """A throwaway PostgreSQL server (Debian's package) on a free port, durable commits:
    (url, stop), or None when the package is not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        return None
    bindir = os.path.dirname(found[-1])
    d = tempfile.mkdtemp(prefix="latchkey-bench-pg-")
    as_owner = []
    if os.geteuid() == 0:  # initdb refuses root
        shutil.chown(d, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_owner + [f"{bindir}/initdb", "-D", f"{d}/data", "-A", "trust", "-U", "latchkey"],
                   check=True, capture_output=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    opts = (f"-p {port} -k {d} -c listen_addresses=127.0.0.1 -c max_connections=200 "
            "-c fsync=on -c synchronous_commit=on -c shared_buffers=256MB")
    subprocess.run(as_owner + [f"{bindir}/pg_ctl", "-D", f"{d}/data", "-o", opts, "-w", "-l", f"{d}/log", "start"],
                   check=True, capture_output=True)
    subprocess.run([f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "latchkey", "bench"],
                   check=True, capture_output=True)

    def stop():
        subprocess.run(as_owner + [f"{bindir}/pg_ctl", "-D", f"{d}/data", "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)

    return f"postgres://latchkey@127.0.0.1:{port}/bench?sslmode=disable", stop


def prepare(server, work, users):
    """Users, one family each, and many distinct access tokens per family."""
    names = [f"u{i:05d}" for i in range(users)]
    with cf.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda n: call(server.base, "POST", "/api/auth/accounts:signUp",
                                   {"username": n, "password": f"bench password {n}", "displayName": n}), names))
    path = os.path.join(work, "users.txt")
    with open(path, "w") as f:
        f.write("\n".join(names) + "\n")
    return path


def tokens(server, work, names_path, tag):
    """Signs every user in once; rotates each family to collect distinct access tokens."""
    names = open(names_path).read().split()

    def one(n):
        st, t = call(server.base, "POST", "/auth/token",
                     {"grant_type": "password", "user_name": n, "password": f"bench password {n}"},
                     headers={"Authorization": "Basic d2ViOmNoYW5nZS1tZQ=="})
        assert st == 200, (st, t)
        access = [t["access_token"]]
        refresh = t["refresh_token"]
        for _ in range(ROTATIONS):
            st, t = call(server.base, "POST", "/auth/refresh-token", {"refresh_token": refresh})
            assert st == 200, (st, t)
            access.append(t["access_token"])
            refresh = t["refresh_token"]
        return access, refresh

    with cf.ThreadPoolExecutor(8) as ex:
        got = list(ex.map(one, names))

    def family(n):
        st, t = call(server.base, "POST", "/auth/token",
                     {"grant_type": "password", "user_name": n, "password": f"bench password {n}"},
                     headers={"Authorization": "Basic d2ViOmNoYW5nZS1tZQ=="})
        assert st == 200, (st, t)
        return t["refresh_token"]

    with cf.ThreadPoolExecutor(8) as ex:
        extra = list(ex.map(family, names * (FAMILIES - 1)))
    same = os.path.join(work, f"same-{tag}.txt")
    distinct = os.path.join(work, f"distinct-{tag}.txt")
    refresh = os.path.join(work, f"refresh-{tag}.txt")
    with open(same, "w") as f:
        f.write("\n".join(a[0] for a, _ in got) + "\n")
    with open(distinct, "w") as f:
        f.write("\n".join(t for a, _ in got for t in a) + "\n")
    with open(refresh, "w") as f:
        f.write("\n".join([r for _, r in got] + extra) + "\n")
    return same, distinct, refresh


def portal_form(server):
    """A pre-login cookie and the csrf field bound to it (one pair serves every request)."""
    u = urllib.parse.urlparse(server.base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("GET", "/ui/login")
    r = c.getresponse()
    body = r.read().decode()
    cookie = re.search(r"latchkey_csrf=([^;]+)", r.getheader("Set-Cookie")).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
    return c, cookie, csrf


def portal_session(server, user):
    """The session cookie of `user`, signed in on the portal's login form."""
    c, cookie, csrf = portal_form(server)
    body = urllib.parse.urlencode({"csrf": csrf, "username": user, "password": f"bench password {user}"})
    c.request("POST", "/ui/login", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"latchkey_csrf={cookie}"})
    r = c.getresponse()
    r.read()
    assert r.status == 303, r.status
    return re.search(r"latchkey_session=([^;]+)", r.getheader("Set-Cookie")).group(1)


def main():
    work = tempfile.mkdtemp(prefix="latchkey-bench-")
    with open(os.path.join(work, "auth.toml"), "w") as f:
        f.write(CONFIG.format(dir=work))
    bounds = json.loads(subprocess.run([BIN, "--config", os.path.join(work, "auth.toml"), "bench-bounds",
                                        "--seconds", "1" if SMOKE else "5"],
                                       capture_output=True, text=True, check=True).stdout)
    rows = {}
    notes = {}
    s = Server(work).start()
    notes["idle_rss_mb"] = s.rss_mb()
    notes["startup_s"] = s.startup_s
    users = prepare(s, work, USERS)
    same, distinct, refresh = tokens(s, work, users, "jwt")
    rows["GET /healthz"] = wrk(s, "healthz.lua")
    rows["sign-up (toolkit, unique users)"] = wrk(s, "signup.lua")
    rows["sign-in (toolkit signInWithPassword)"] = wrk(s, "signin_toolkit.lua", [users])
    rows["sign-in (oauth password grant, form)"] = wrk(s, "signin_oauth.lua", [users])
    rows["refresh rotation (4 families per connection)"] = wrk(s, "refresh.lua", [refresh, str(THREADS)], warmup=0)
    _, cookie, csrf = portal_form(s)
    rows["portal sign-in (login form, password)"] = wrk(s, "portal_signin.lua", [users, cookie, csrf])
    session = portal_session(s, open(users).read().split()[0])
    for client, alg in (("bench", "RS256"), ("bench-es", "ES256")):
        codes = os.path.join(work, f"codes-{client}")
        basic = base64.b64encode(f"{client}:bench-secret-0123456789".encode()).decode()
        if alg == "RS256":
            rows["OIDC authorization (signed in: code issued)"] = wrk(
                s, "oidc_authorize.lua", [session, codes, client], warmup=0)
        else:
            wrk(s, "oidc_authorize.lua", [session, codes, client], warmup=0)
        rows[f"OIDC code exchange ({alg} id token, client_secret_basic)"] = wrk(
            s, "oidc_token.lua", [codes, basic], warmup=0)
    rows["forward-auth, portal cookie, 50 rules (the last matching)"] = wrk(s, "forward.lua", [session])
    rows["GET /users/me, EdDSA, same token"] = wrk(s, "auth.lua", [same, "same"])
    idle32 = wrk(s, "auth.lua", [same, "same"], conns=32)
    # Mixed: a login storm beside a stream of authenticated calls.
    storm = subprocess.Popen(["wrk", "-t", "1", "-c", "32", "-d", f"{DURATION + 2}s", "-s", "bench/lua/signin_toolkit.lua",
                              s.base, "--", users], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    mixed = wrk(s, "auth.lua", [same, "same"], conns=32, warmup=0)
    storm.wait()
    rows["mixed: /users/me during a sign-in storm (32+32 conns)"] = mixed
    # What the server keeps once the load is gone: its store filled by every scenario
    # above (sign-ups, sessions, OIDC grants, rotations).
    time.sleep(1 if SMOKE else 10)
    notes["after_rss_mb"] = s.rss_mb()
    notes["after_store_mb"] = os.path.getsize(os.path.join(work, "bench.redb")) / 1e6
    s.stop()
    # Overload: 256 connections of sign-in; the accepted ones' latency from the server log.
    s = Server(work).start(log_requests=True)
    shed = wrk(s, "signin_toolkit.lua", [users], conns=256, warmup=0)
    time.sleep(1 if SMOKE else 10)
    shed_after = s.rss_mb()
    s.stop()
    accepted = sorted(int(m.group(1)) for m in re.finditer(r'route="signin" status=200 micros=(\d+)',
                                                            open(os.path.join(work, "server.log")).read()))
    shed_codes = re.findall(r'route="signin" status=(\d+)', open(os.path.join(work, "server.log")).read())
    shed["accepted"] = len(accepted)
    shed["shed_503"] = sum(1 for c in shed_codes if c == "503")
    shed["accepted_p99_ms"] = accepted[int(len(accepted) * 0.99) - 1] / 1000 if accepted else 0
    rows["sign-in, 256 connections (overload shed)"] = shed
    notes["after_shed_rss_mb"] = shed_after
    # Distinct tokens: the cache off, so every request checks a signature.
    s = Server(work, {"LATCHKEY_TOKENS__CACHE_SIZE": "0"}).start()
    rows["GET /users/me, EdDSA, distinct tokens"] = wrk(s, "auth.lua", [distinct, "distinct"])
    s.stop()
    # PASETO v4.public: a new key; tokens come from rotating the families again.
    paseto = {"LATCHKEY_TOKENS__FORMAT": "paseto", "LATCHKEY_TOKENS__ALGORITHM": "v4.public"}
    s = Server(work, paseto).start()
    same4, distinct4, _ = tokens(s, work, users, "paseto")
    rows["GET /users/me, v4.public, same token"] = wrk(s, "auth.lua", [same4, "same"])
    s.stop()
    s = Server(work, dict(paseto, LATCHKEY_TOKENS__CACHE_SIZE="0")).start()
    rows["GET /users/me, v4.public, distinct tokens"] = wrk(s, "auth.lua", [distinct4, "distinct"])
    s.stop()
    pg = postgres()
    if pg:
        url, stop = pg
        try:
            env = {"LATCHKEY_STORAGE__BACKEND": "postgres", "LATCHKEY_STORAGE__URL": url,
                   "LATCHKEY_STORAGE__KEY_FILE": os.path.join(work, "pg.key")}
            s = Server(work, env).start()
            pg_users = prepare(s, work, USERS)
            pg_same, _, pg_refresh = tokens(s, work, pg_users, "pg")
            rows["PostgreSQL: sign-in (toolkit signInWithPassword)"] = wrk(s, "signin_toolkit.lua", [pg_users])
            rows["PostgreSQL: refresh rotation (4 families per connection)"] = wrk(
                s, "refresh.lua", [pg_refresh, str(THREADS)], warmup=0)
            rows["PostgreSQL: GET /users/me, EdDSA, same token"] = wrk(s, "auth.lua", [pg_same, "same"])
            s.stop()
        finally:
            stop()
    else:
        notes["no_postgres"] = True
    ev = events_bench()
    notes["events"] = ev
    rows["sign-in (toolkit), fresh store, audit log on"] = ev["signin_on"]
    rows["sign-in (toolkit), fresh store, audit log off"] = ev["signin_off"]
    rows["refresh rotation, fresh store, audit log on"] = ev["refresh_on"]
    rows["refresh rotation, fresh store, audit log off"] = ev["refresh_off"]
    big = None
    if BIG:
        big = store_size()
        big["firebase"] = firebase()
    write(bounds, rows, notes, idle32, big)


def events_only():
    """The audit log and webhook rows alone."""
    ev = events_bench()
    for k in ("signin", "refresh"):
        print(f"{k}: on {ev[k + '_on']['ok_rps']:,.1f}/s, off {ev[k + '_off']['ok_rps']:,.1f}/s "
              f"({ev[k + '_on']['ok_rps'] / ev[k + '_off']['ok_rps'] - 1:+.1%})")
    print(json.dumps({k: v for k, v in ev.items() if not isinstance(v, dict)}, indent=1))


NGINX_204 = """
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx.err;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy; fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  server {{ listen 127.0.0.1:{port}; location / {{ return 204; }} }}
}}
"""

# A cheap hash for the burst of sign-ups: the outbox, not scrypt, is what is measured.
CHEAP = '[password]\nscrypt = {{ log_n = 10, r = 8, p = 1 }}\n'


def free_port():
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


def burst(server, n, tag):
    """n sign-ups as fast as 16 keep-alive connections send them; their wall time."""
    host, port = server.base.split("//")[1].split(":")

    def worker(k):
        c = http.client.HTTPConnection(host, int(port), timeout=60)
        for i in range(k, n, 16):
            body = json.dumps({"username": f"{tag}{i}", "password": "bench password burst", "displayName": "B"})
            c.request("POST", "/api/auth/accounts:signUp", body, {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            assert r.status in (200, 201), r.status
        c.close()

    t0 = time.monotonic()
    with cf.ThreadPoolExecutor(16) as ex:
        list(ex.map(worker, range(16)))
    return time.monotonic() - t0


def disk_mb(work):
    st = os.stat(os.path.join(work, "bench.redb"))
    return st.st_blocks * 512 / 1e6


def events_bench():
    """The audit log's cost and size, and the webhook outbox's drain: sign-in and refresh
    rotation with the audit log off (the main rows have it on, the default); n sign-ups
    with it on and off (the store's growth per event); a burst of n sign-ups whose
    user.created messages go to a local receiver (nginx answering 204)."""
    n = 500 if SMOKE else 10_000
    r = {"n": n}
    # On and off, each on a fresh store, one after the other: the main rows ran earlier
    # on a store that has grown since, which would weigh more than the audit log.
    for on in (True, False):
        tag = "on" if on else "off"
        work = tempfile.mkdtemp(prefix=f"latchkey-bench-{tag}-")
        with open(os.path.join(work, "auth.toml"), "w") as f:
            f.write(CONFIG.format(dir=work) + f"[audit]\nenabled = {'true' if on else 'false'}\n")
        s = Server(work).start()
        users = prepare(s, work, USERS)
        _, _, refresh = tokens(s, work, users, tag)
        r[f"signin_{tag}"] = wrk(s, "signin_toolkit.lua", [users])
        r[f"refresh_{tag}"] = wrk(s, "refresh.lua", [refresh, str(THREADS)], warmup=0)
        s.stop()
        shutil.rmtree(work, ignore_errors=True)
    # The store's growth per event: the same sign-ups, audit log on and off.
    sizes = {}
    for on in (True, False):
        work = tempfile.mkdtemp(prefix="latchkey-bench-size-")
        with open(os.path.join(work, "auth.toml"), "w") as f:
            f.write(CONFIG.format(dir=work) + CHEAP.format() + f"[audit]\nenabled = {'true' if on else 'false'}\n")
        s = Server(work).start()
        before = disk_mb(work)
        burst(s, n, "z")
        s.stop()
        sizes[on] = disk_mb(work) - before
        shutil.rmtree(work, ignore_errors=True)
    r["bytes_per_event"] = (sizes[True] - sizes[False]) * 1e6 / n
    # The outbox: a burst of sign-ups, their messages to nginx.
    if not shutil.which("nginx"):
        return r
    ng = tempfile.mkdtemp(prefix="latchkey-bench-nginx-")
    port = free_port()
    for d in ("body", "proxy", "fcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(ng, d))
    with open(os.path.join(ng, "nginx.conf"), "w") as f:
        f.write(NGINX_204.format(dir=ng, port=port))
    nginx = subprocess.Popen(["nginx", "-p", ng, "-c", os.path.join(ng, "nginx.conf")])
    time.sleep(0.5)
    work = tempfile.mkdtemp(prefix="latchkey-bench-hooks-")
    secret = "whsec_" + base64.b64encode(b"bench-webhook-secret-0123456789!").decode()
    with open(os.path.join(work, "auth.toml"), "w") as f:
        f.write(CONFIG.format(dir=work) + CHEAP.format() +
                f'[[webhooks]]\nurl = "http://127.0.0.1:{port}/hook"\nsecret = "{secret}"\n'
                'events = ["user.created"]\n')
    s = Server(work).start()
    t0 = time.monotonic()
    burst_s = burst(s, n, "w")
    while True:
        req = urllib.request.Request(s.admin + "/admin/webhooks",
                                     headers={"Authorization": "Bearer bench-admin-token-0123456789"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            ep = json.loads(resp.read())["endpoints"][0]
        if ep["pending"] == 0:
            break
        if time.monotonic() - t0 > 600:
            break
        time.sleep(0.05)
    drained_s = time.monotonic() - t0
    r.update(burst_s=burst_s, drained_s=drained_s, failed=ep["failed"], pending=ep["pending"],
             events_per_s=n / drained_s)
    s.stop()
    nginx.terminate()
    nginx.wait(10)
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(ng, ignore_errors=True)
    return r


def store_size():
    """1,000,000 users imported into a store of their own (the bench's store holds the
    other scenarios' sessions and grants); then sign-in and authenticated calls."""
    work = tempfile.mkdtemp(prefix="latchkey-bench-big-")
    with open(os.path.join(work, "auth.toml"), "w") as f:
        f.write(CONFIG.format(dir=work))
    phc = "$scrypt$ln=15,r=8,p=1$YmVuY2hzYWx0YmVuY2hzYWx0$" + "A" * 43
    path = os.path.join(work, "million.jsonl")
    with open(path, "w") as f:
        for i in range(1_000_000):
            f.write(f'{{"email":"m{i}@bench.example","username":"m{i}","password_hash":"{phc}"}}\n')
    t0 = time.monotonic()
    out = subprocess.run([BIN, "--config", os.path.join(work, "auth.toml"), "user", "import", path],
                         capture_output=True, text=True)
    import_s = time.monotonic() - t0
    assert out.returncode == 0, out.stderr
    store = os.path.join(work, "bench.redb")
    r = {
        "import_s": import_s,
        "store_mb": os.path.getsize(store) / 1e6,
        # redb grows its file ahead of use (the tail is sparse until written): what the
        # disk holds.
        "disk_mb": os.stat(store).st_blocks * 512 / 1e6,
    }
    s = Server(work).start()
    r["startup_s"] = s.startup_s
    users = prepare(s, work, USERS)
    same, _, _ = tokens(s, work, users, "big")
    r["signin"] = wrk(s, "signin_toolkit.lua", [users])
    r["auth"] = wrk(s, "auth.lua", [same, "same"])
    s.stop()
    shutil.rmtree(work, ignore_errors=True)
    return r


# Firebase's published example: every generated user has its password, user1password.
FB_KEY = "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
FB_HASH = "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="


def firebase(n=1_000_000):
    """n users of a Firebase export imported (`--format firebase`), then first sign-ins:
    each verifies Firebase's scrypt and re-hashes the password with latchkey's."""
    work = tempfile.mkdtemp(prefix="latchkey-bench-fb-")
    with open(os.path.join(work, "auth.toml"), "w") as f:
        f.write(CONFIG.format(dir=work))
    path = os.path.join(work, "users.json")
    with open(path, "w") as f:
        f.write('{"users":[\n')
        for i in range(n):
            f.write(("," if i else "") + json.dumps({
                "localId": f"fb{i:026d}", "email": f"f{i}@fb.example", "emailVerified": True,
                "passwordHash": FB_HASH, "salt": "42xEC+ixf3L2lw==", "displayName": f"User {i}",
                "createdAt": "1486324137000", "lastSignedInAt": "1486324137001",
                "providerUserInfo": [{"providerId": "password", "email": f"f{i}@fb.example"}]}) + "\n")
        f.write("]}\n")
    t0 = time.monotonic()
    out = subprocess.run([BIN, "--config", os.path.join(work, "auth.toml"), "user", "import", path,
                          "--format", "firebase", "--hash-key", FB_KEY, "--salt-separator", "Bw==",
                          "--rounds", "8", "--mem-cost", "14"], capture_output=True, text=True)
    import_s = time.monotonic() - t0
    assert out.returncode == 0, out.stderr
    emails = os.path.join(work, "emails.txt")
    with open(emails, "w") as f:
        f.write("\n".join(f"f{i}@fb.example" for i in range(min(n, 200_000))) + "\n")
    s = Server(work).start()
    r = {"users": n, "import_s": import_s, "import_out": out.stdout.strip(),
         "rehash": wrk(s, "signin_rehash.lua", [emails, str(THREADS)], conns=16, warmup=0)}
    s.stop()
    shutil.rmtree(work, ignore_errors=True)
    return r


def fmt(r, extra=""):
    return (f"| {r['conns']} | {r['ok_rps']:,.0f} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['non2xx']:,} | {r['rss_mb']:.1f} | {extra} |")


def per_verify(row, verify_per_sec):
    """A verification row against the one-verify bound: the server's own CPU per request
    (read from /proc, so wrk's share of the two cores does not count) over the cost of
    one signature verification on one core."""
    one = 1e6 / verify_per_sec
    return (f"{row['cpu_us']:.1f} µs server CPU per request = {row['cpu_us'] / one:.2f}× one verification "
            f"({one:.1f} µs; ≤ 1.3×)")


def write(bounds, rows, notes, idle32, big):
    cores = bounds["cores"]
    hb = bounds["hashes_per_sec"]
    vb = bounds["verify_per_sec_per_core"]
    health = rows["GET /healthz"]["rps"]
    ratios = {
        "sign-up (toolkit, unique users)": f"{rows['sign-up (toolkit, unique users)']['ok_rps'] / hb:.0%} of hashing bound (≥ 95%)",
        "sign-in (toolkit signInWithPassword)": f"{rows['sign-in (toolkit signInWithPassword)']['ok_rps'] / hb:.0%} of hashing bound (≥ 95%)",
        "sign-in (oauth password grant, form)": f"{rows['sign-in (oauth password grant, form)']['ok_rps'] / hb:.0%} of hashing bound (≥ 95%)",
        "refresh rotation (4 families per connection)": f"{rows['refresh rotation (4 families per connection)']['ok_rps']:,.0f}/s durable (≥ 5,000/s)",
        "portal sign-in (login form, password)": f"{rows['portal sign-in (login form, password)']['ok_rps'] / hb:.0%} of hashing bound (like the API sign-ins)",
        "OIDC code exchange (RS256 id token, client_secret_basic)": f"{rows['OIDC code exchange (RS256 id token, client_secret_basic)']['ok_rps']:,.0f}/s (≥ 2,000/s; Keycloak publishes 120 token grants/s per vCPU: {120 * cores:,}/s on {cores})",
        "OIDC code exchange (ES256 id token, client_secret_basic)": f"{rows['OIDC code exchange (ES256 id token, client_secret_basic)']['ok_rps']:,.0f}/s (≥ 2,000/s)",
        "sign-in (toolkit), fresh store, audit log on": f"{rows['sign-in (toolkit), fresh store, audit log on']['ok_rps'] / rows['sign-in (toolkit), fresh store, audit log off']['ok_rps'] - 1:+.1%} against off (within 5%)",
        "refresh rotation, fresh store, audit log on": f"{rows['refresh rotation, fresh store, audit log on']['ok_rps'] / rows['refresh rotation, fresh store, audit log off']['ok_rps'] - 1:+.1%} against off (within 5%)",
        "forward-auth, portal cookie, 50 rules (the last matching)": f"{rows['forward-auth, portal cookie, 50 rules (the last matching)']['rps'] / health:.0%} of /healthz (≥ 50%); one decision {bounds['access_decision_us']:.2f} µs",
        "GET /users/me, EdDSA, same token": f"{rows['GET /users/me, EdDSA, same token']['rps'] / health:.0%} of /healthz (≥ 50%)",
        "GET /users/me, EdDSA, distinct tokens": per_verify(rows['GET /users/me, EdDSA, distinct tokens'], vb['jwt:EdDSA']),
        "GET /users/me, v4.public, same token": f"{rows['GET /users/me, v4.public, same token']['rps'] / health:.0%} of /healthz (≥ 50%)",
        "GET /users/me, v4.public, distinct tokens": per_verify(rows['GET /users/me, v4.public, distinct tokens'], vb['paseto:v4.public']),
        "mixed: /users/me during a sign-in storm (32+32 conns)": f"{rows['mixed: /users/me during a sign-in storm (32+32 conns)']['rps'] / idle32['rps']:.0%} of idle ({idle32['rps']:,.0f}/s, ≥ 50%), p99 ≤ 50 ms",
    }
    def vs(name, redb_name, what, target, key="ok_rps"):
        if name in rows:
            ratios[name] = (f"{rows[name][key] / rows[redb_name][key]:.0%} of redb's {what} "
                            f"({rows[redb_name][key]:,.0f}/s, {target})")

    vs("PostgreSQL: sign-in (toolkit signInWithPassword)", "sign-in (toolkit signInWithPassword)",
       "sign-in", "at the hashing bound as redb")
    vs("PostgreSQL: refresh rotation (4 families per connection)", "refresh rotation (4 families per connection)",
       "durable rotations", "≥ 50%")
    vs("PostgreSQL: GET /users/me, EdDSA, same token", "GET /users/me, EdDSA, same token", "reused token",
       "≥ 80%", key="rps")
    shed = rows["sign-in, 256 connections (overload shed)"]
    queue_bound = 2 * bounds["one_hash_ms"] * 64
    ratios["sign-in, 256 connections (overload shed)"] = (
        f"{shed['ok_rps'] / hb:.0%} of hashing bound accepted (≥ 80%); {shed['accepted']:,} accepted, "
        f"{shed['shed_503']:,} shed (503); accepted p99 {shed['accepted_p99_ms']:.0f} ms "
        f"(≤ 2 × {bounds['one_hash_ms']:.0f} ms × queue 64 = {queue_bound:.0f} ms)")
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    lines = [
        f"# latchkey benchmark — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Machine: {cores} cores ({cpu}), {platform.system()} {platform.release()}; "
        f"wrk, {THREADS} threads, {DURATION} s per scenario after a {WARMUP} s warm-up"
        + (" (SMOKE RUN: figures meaningless)" if SMOKE else "") + ".",
        "",
        f"Bounds (`latchkey bench-bounds`, same run): scrypt ln={bounds['scrypt']['log_n']} r={bounds['scrypt']['r']} "
        f"p={bounds['scrypt']['p']}: **{hb:.1f} hashes/s** with {bounds['hash_threads']} threads, one hash "
        f"{bounds['one_hash_ms']:.0f} ms; one-verify bound per core: **{vb['jwt:EdDSA']:,.0f}/s** EdDSA, "
        f"**{vb['paseto:v4.public']:,.0f}/s** v4.public.",
        "",
        "| scenario | conns | 2xx/s | all req/s | p50 ms | p99 ms | non-2xx | RSS peak MB | against the target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, r in rows.items():
        lines.append(f"| {name} " + fmt(r, ratios.get(name, "")))
    lines += ["", f"Idle RSS after start: {notes['idle_rss_mb']:.1f} MB; start-up {notes['startup_s'] * 1000:.0f} ms (empty store)."]
    lines += ["", f"RSS 10 s after the load: {notes['after_rss_mb']:.1f} MB after the rows from /healthz to the mixed one "
              f"(store {notes['after_store_mb']:.0f} MB), {notes['after_shed_rss_mb']:.1f} MB after the 256-connection sign-in "
              f"storm (target ≤ 64 MiB = 67.1 MB with the default config)."]
    ev = notes.get("events", {})
    if "drained_s" in ev:
        lines += ["", f"Webhooks: a burst of {ev['n']:,} sign-ups (cheap scrypt, ln=10) took {ev['burst_s']:.1f} s; "
                  f"their `user.created` messages to a local receiver (nginx, 204) were all delivered "
                  f"{ev['drained_s']:.1f} s after the burst began ({ev['drained_s'] / ev['burst_s']:.2f}× the burst's "
                  f"time, target ≤ 2×): {ev['events_per_s']:,.0f} events/s; failed {ev['failed']}."]
    if "bytes_per_event" in ev:
        per_day = 1_000 * 2.5
        lines += ["", f"Audit log: the store grows {ev['bytes_per_event']:,.0f} B per event (the same {ev['n']:,} sign-ups "
                  f"with the audit log on and off, on disk). Kept 90 days, 1,000 people signing in twice a day "
                  f"(~{per_day:,.0f} events a day) hold {per_day * 90 * ev['bytes_per_event'] / 1e6:,.0f} MB."]
    if notes.get("no_postgres"):
        lines += ["", "PostgreSQL rows missing: Debian's postgresql package is not installed."]
    else:
        lines += ["", "PostgreSQL rows: one node on a local PostgreSQL (same machine, `synchronous_commit = on`, "
                  "pool_size 16); the database's own CPU counts against the same two cores."]
    if big:
        lines += [
            "",
            f"Store size: 1,000,000 users imported into an empty store in {big['import_s']:.1f} s (`latchkey user import`); "
            f"store file {big['store_mb']:.0f} MB ({big['store_mb'] * 1e6 / 1_000_000:,.0f} B per user; "
            f"{big['disk_mb'] * 1e6 / 1_000_000:,.0f} B per user on disk); "
            f"start-up {big['startup_s'] * 1000:.0f} ms; "
            f"sign-in {big['signin']['rps']:,.1f}/s "
            f"({big['signin']['rps'] / rows['sign-in (toolkit signInWithPassword)']['rps']:.0%} of the small store), "
            f"/users/me same token {big['auth']['rps']:,.0f}/s "
            f"({big['auth']['rps'] / rows['GET /users/me, EdDSA, same token']['rps']:.0%} of the small store).",
        ]
        fb = big.get("firebase")
        if fb:
            rh = fb["rehash"]
            lines += [
                "",
                f"Firebase: {fb['users']:,} users of an `auth:export` file imported in {fb['import_s']:.1f} s "
                f"(`user import --format firebase`, compaction included; target ≤ 60 s); first sign-ins "
                f"(Firebase's scrypt verified, then re-hashed with latchkey's) {rh['ok_rps']:,.1f}/s, p99 "
                f"{rh['p99_ms']:.0f} ms: {rh['ok_rps'] / rows['sign-in (toolkit signInWithPassword)']['ok_rps']:.0%} "
                f"of the ordinary sign-in (one verification plus one hash, where the ordinary one is a "
                f"verification).",
            ]
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    out = os.path.join(ROOT, "bench", "results", "smoke.md" if SMOKE else "latest.md")
    with open(out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    if "--firebase-only" in sys.argv:
        print(json.dumps(firebase(), indent=1))
    elif "--events-only" in sys.argv:
        events_only()
    else:
        main()
