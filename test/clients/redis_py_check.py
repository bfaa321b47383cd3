#!/usr/bin/python3
"""kvnode's Redis protocol through redis-py (Debian's python3-redis), as a user's program would
use it: every command of docs/redis.md against a 3-node cluster, connected to a follower, and
then writes that keep going while the leader is killed (no acknowledged write lost).

Run by test/fault/redis_clients_test.cpp:
  redis_py_check.py --follower HOST:PORT --other HOST:PORT --leader-pid PID [--only GROUP,...]
Exits 0 when every check held; otherwise prints the failed check and exits 1.
"""

import argparse
import os
import signal
import sys
import threading
import time
import traceback

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry


def connect(endpoint, **kw):
    host, port = endpoint.rsplit(":", 1)
    return redis.Redis(host=host, port=int(port), socket_timeout=10,
                       retry=Retry(ExponentialBackoff(cap=0.5, base=0.01), 20),
                       retry_on_error=[redis.ConnectionError, redis.TimeoutError], **kw)


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def expect_error(fn, fragment):
    try:
        fn()
    except redis.ResponseError as e:
        check(fragment in str(e), f"error {e!r} lacks {fragment!r}")
        return
    raise AssertionError(f"no error, expected one with {fragment!r}")


def strings(r):
    r.flushdb()
    check(r.set("k", "v") is True, "SET")
    check(r.get("k") == b"v", "GET")
    check(r.set("k", "w", nx=True) is None, "SET NX on a key")
    check(r.set("k", "w", xx=True, get=True) == b"v", "SET XX GET")
    check(r.set("t", "1", ex=100) and 99 <= r.ttl("t") <= 100, "SET EX")
    check(r.set("t", "2", keepttl=True) and r.ttl("t") > 0, "SET KEEPTTL")
    check(r.set("p", "1", px=100000) and r.pttl("p") > 90000, "SET PX")
    check(r.set("a", "1", exat=int(time.time()) + 100) and r.ttl("a") > 90, "SET EXAT")
    check(r.setnx("n", "1") is True and r.setnx("n", "2") is False, "SETNX")
    check(r.setex("e", 50, "x") and r.ttl("e") > 40, "SETEX")
    check(r.psetex("pe", 50000, "x") and r.pttl("pe") > 40000, "PSETEX")
    check(r.getset("k", "g") == b"w" and r.get("k") == b"g", "GETSET")
    check(r.getdel("k") == b"g" and r.get("k") is None, "GETDEL")
    r.set("gx", "v")
    check(r.getex("gx", ex=100) == b"v" and r.ttl("gx") > 90, "GETEX EX")
    check(r.getex("gx", persist=True) == b"v" and r.ttl("gx") == -1, "GETEX PERSIST")
    check(r.mset({"m1": "1", "m2": "2"}) is True, "MSET")
    check(r.mget("m1", "m2", "nope") == [b"1", b"2", None], "MGET")
    check(r.msetnx({"m3": "3", "m1": "x"}) is False and r.get("m3") is None, "MSETNX refused")
    check(r.msetnx({"m3": "3", "m4": "4"}) is True, "MSETNX")
    check(r.append("s", "ab") == 2 and r.append("s", "cd") == 4, "APPEND")
    check(r.strlen("s") == 4, "STRLEN")
    check(r.getrange("s", 1, -2) == b"bc", "GETRANGE")
    check(r.setrange("s", 6, "z") == 7 and r.get("s") == b"abcd\x00\x00z", "SETRANGE")
    check(r.incr("c") == 1 and r.incrby("c", 10) == 11, "INCR INCRBY")
    check(r.decr("c") == 10 and r.decrby("c", 5) == 5, "DECR DECRBY")
    check(r.incrbyfloat("f", 1.5) == 1.5 and r.incrbyfloat("f", "0.25") == 1.75, "INCRBYFLOAT")
    expect_error(lambda: r.incr("s"), "not an integer")
    check(r.type("s") == b"string" and r.type("nope") == b"none", "TYPE")
    binary = b"\x00\xff\xfe key"
    check(r.set(binary, b"\x00v\xff") and r.get(binary) == b"\x00v\xff", "binary key and value")


def keys(r):
    r.flushdb()
    r.mset({"a": "1", "b": "2", "c": "3"})
    check(r.exists("a", "b", "a", "zz") == 3, "EXISTS")
    check(r.delete("a", "zz") == 1 and r.unlink("b") == 1, "DEL UNLINK")
    r.set("src", "v", ex=100)
    check(r.rename("src", "dst") is True and r.get("dst") == b"v" and r.ttl("dst") > 90, "RENAME keeps the TTL")
    expect_error(lambda: r.rename("src", "x"), "no such key")
    r.set("x", "1")
    check(r.renamenx("dst", "x") is False and r.renamenx("dst", "y") is True, "RENAMENX")
    check(r.copy("y", "z") is True and r.copy("y", "z") is False and r.copy("y", "z", replace=True), "COPY")
    check(r.expire("z", 100) is True and 99 <= r.ttl("z") <= 100, "EXPIRE")
    check(r.pexpire("z", 200000) is True and r.pttl("z") > 190000, "PEXPIRE")
    check(r.expireat("z", int(time.time()) + 300) is True and r.ttl("z") > 290, "EXPIREAT")
    check(r.pexpireat("z", int(time.time() * 1000) + 400000) and r.ttl("z") > 390, "PEXPIREAT")
    check(abs(r.expiretime("z") - (int(time.time()) + 400)) <= 2, "EXPIRETIME")
    check(r.persist("z") is True and r.ttl("z") == -1 and r.ttl("nope") == -2, "PERSIST TTL")
    check(r.expire("z", 100, nx=True) is True and r.expire("z", 50, nx=True) is False, "EXPIRE NX")
    check(r.expire("z", 50, gt=True) is False and r.expire("z", 200, gt=True) is True, "EXPIRE GT")
    r.flushdb()
    check(r.dbsize() == 0, "FLUSHDB")
    names = {f"key:{i}" for i in range(250)}
    for chunk in range(0, 250, 50):
        r.mset({k: "v" for k in sorted(names)[chunk:chunk + 50]})
    check(r.dbsize() == 250, "DBSIZE")
    check(set(r.scan_iter(count=17)) == {n.encode() for n in names}, "SCAN walks every key")
    check(set(r.scan_iter(match="key:1?")) == {f"key:1{d}".encode() for d in range(10)}, "SCAN MATCH")
    check(len(r.keys("key:2*")) == 61, "KEYS")
    check(r.randomkey() in {n.encode() for n in names}, "RANDOMKEY")
    check(r.flushall() is True and r.randomkey() is None, "FLUSHALL")


def transactions(r):
    r.flushdb()
    with r.pipeline(transaction=True) as p:
        p.set("t1", "a").incr("t2").get("t1")
        check(p.execute() == [True, 1, b"a"], "MULTI/EXEC")
    with r.pipeline() as p:  # a rate limiter's INCR then EXPIRE: one key written twice
        p.incr("rl").expire("rl", 60).set("x", 1).incr("x")
        check(p.execute() == [1, True, True, 2] and r.ttl("rl") == 60, "MULTI/EXEC writing a key twice")

    def bump(pipe):
        value = int(pipe.get("t2"))
        pipe.multi()
        pipe.set("t2", value + 1)
    check(r.transaction(bump, "t2") == [True] and r.get("t2") == b"2", "WATCH + MULTI/EXEC")
    other = connect(ARGS.other)
    with r.pipeline() as p:
        p.watch("t2")
        other.set("t2", "99")  # another client changes the watched key
        p.multi()
        p.set("t2", "0")
        try:
            p.execute()
            raise AssertionError("EXEC ran although a watched key changed")
        except redis.WatchError:
            pass
    check(r.get("t2") == b"99", "a failed EXEC applies nothing")
    conn = r.connection_pool.get_connection("MULTI")  # one connection for the three commands
    try:
        for command, answer in ((("MULTI",), b"OK"), (("SET", "t3", "1"), b"QUEUED"), (("DISCARD",), b"OK")):
            conn.send_command(*command)
            check(conn.read_response() == answer, f"{command} answered as Redis")
    finally:
        r.connection_pool.release(conn)
    check(r.exists("t3") == 0, "DISCARD drops what MULTI queued")
    check(r.execute_command("UNWATCH") is True, "UNWATCH")
    with r.pipeline(transaction=False) as p:  # a plain pipeline
        for i in range(100):
            p.incr("pipelined")
        check(p.execute() == list(range(1, 101)), "pipeline")


def server(r):
    check(r.ping() is True and r.echo("hi") == b"hi", "PING ECHO")
    check(r.client_setname("py") and r.client_getname() == "py", "CLIENT SETNAME GETNAME")
    check(isinstance(r.client_id(), int), "CLIENT ID")
    check(any(c.get("name") == "py" for c in r.client_list()), "CLIENT LIST")
    info = r.info()
    check(info["role"] in ("master", "slave") and "redis_version" in info, "INFO")
    replication = r.info("replication")
    check(replication["role"] == "slave" and replication["connected_slaves"] == 0, f"INFO replication {replication!r}")
    check(isinstance(r.config_get("maxclients"), dict), "CONFIG GET")
    seconds, micros = r.time()
    check(abs(seconds - time.time()) < 5, "TIME")
    check(r.execute_command("WAIT", 1, 0) >= 0, "WAIT")
    check(r.command_count() > 50, "COMMAND COUNT")
    check("get" in r.command(), "COMMAND")
    check(r.execute_command("SELECT", 0) is True, "SELECT 0")
    expect_error(lambda: r.execute_command("SELECT", 1), "DB index is out of range")
    check(r.client_info()["name"] == "py", "CLIENT INFO")
    check(r.execute_command("READONLY") is True and r.get("nope") is None, "READONLY")
    check(r.execute_command("READWRITE") is True, "READWRITE")
    r.set("s", "x")
    expect_error(lambda: r.lpush("s", "x"), "WRONGTYPE")  # another type: an error, never a wrong answer


def pubsub(r):
    p = r.pubsub()
    p.subscribe("news")
    check(p.get_message(timeout=5)["type"] == "subscribe", "SUBSCRIBE")
    publisher = connect(ARGS.follower)
    receivers = publisher.publish("news", "hello")
    check(receivers >= 1, f"PUBLISH reached {receivers}")
    m = p.get_message(timeout=5)
    check(m is not None and m["data"] == b"hello", f"message {m!r}")
    check(publisher.pubsub_channels() == [b"news"] and publisher.pubsub_numsub("news") == [(b"news", 1)],
          "PUBSUB CHANNELS NUMSUB")
    p.psubscribe("n*")
    check(p.get_message(timeout=5)["type"] == "psubscribe", "PSUBSCRIBE")
    check(publisher.pubsub_numpat() == 1, "PUBSUB NUMPAT")
    publisher.publish("nba", "score")
    m = p.get_message(timeout=5)
    check(m is not None and m["type"] == "pmessage" and m["data"] == b"score", f"pmessage {m!r}")
    p.close()


def search(r):
    r.flushdb()
    r.set("doc:1", "the quick brown fox")
    r.set("doc:2", "a lazy brown dog")
    reply = r.execute_command("FT.SEARCH", "kv", "brown", "NOCONTENT")
    check(reply[0] == 2 and set(reply[1:]) == {b"doc:1", b"doc:2"}, f"FT.SEARCH {reply!r}")
    reply = r.execute_command("FT.SEARCH", "kv", "quick", "WITHSCORES")
    check(reply[0] == 1 and reply[1] == b"doc:1" and reply[3] == [b"value", b"the quick brown fox"],
          f"FT.SEARCH WITHSCORES {reply!r}")
    reply = r.execute_command("FT.SIMILAR", "kv", "quick brown fax", "NOCONTENT")
    check(reply[0] >= 1 and reply[1] == b"doc:1", f"FT.SIMILAR {reply!r}")


def leader_kill(r, leader_pid):
    """Writes through the follower while the leader dies: every acknowledged one is kept."""
    acked = {}
    errors = []
    killed = threading.Event()

    def kill_soon():
        time.sleep(0.5)
        os.kill(leader_pid, signal.SIGKILL)
        killed.set()
    threading.Thread(target=kill_soon).start()
    i = 0
    deadline = time.time() + 60
    after = 0
    while after < 300 and time.time() < deadline:
        key = f"kill:{i}"
        i += 1
        try:
            if r.set(key, str(i)):
                acked[key] = str(i).encode()
                if killed.is_set():
                    after += 1
        except redis.RedisError as e:
            errors.append(repr(e))
    check(after == 300, f"writes did not resume after the leader was killed: {errors[-3:]}")
    check(len(errors) <= 5, f"{len(errors)} writes failed during the failover: {errors[:3]}")
    other = connect(ARGS.other)
    names = list(acked)
    for at in range(0, len(names), 100):
        chunk = names[at:at + 100]
        check(other.mget(chunk) == [acked[k] for k in chunk], "an acknowledged write was lost")
    print(f"leader kill: {len(acked)} writes acknowledged, {after} after the kill, {len(errors)} refused")


def main():
    r = connect(ARGS.follower)
    for name, fn in [("strings", strings), ("keys", keys), ("transactions", transactions), ("server", server),
                     ("pubsub", pubsub), ("search", search)]:
        if ARGS.only and name not in ARGS.only:
            continue
        try:
            fn(r)
            print(f"ok: {name}")
        except Exception as e:  # report which group failed, then fail
            print(f"FAILED: {name}: {e!r}\n{traceback.format_exc()}")
            return 1
    if not ARGS.only or "leader-kill" in ARGS.only:
        leader_kill(r, ARGS.leader_pid)
        print("ok: leader kill")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--follower", required=True)
    parser.add_argument("--other", required=True)
    parser.add_argument("--leader-pid", type=int, required=True)
    parser.add_argument("--only", type=lambda s: s.split(","), default=[],
                        help="run only these groups (strings,keys,...,leader-kill), to debug one")
    ARGS = parser.parse_args()
    sys.exit(main())
