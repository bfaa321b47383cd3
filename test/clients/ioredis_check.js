// kvnode's Redis protocol through ioredis (npm), as a Node.js program would use it: every
// command of docs/redis.md against a 3-node cluster, connected to a follower, and then writes
// that keep going while the leader is killed (no acknowledged write lost).
//
// Run by test/fault/redis_clients_test.cpp:
//   node ioredis_check.js --follower HOST:PORT --other HOST:PORT --leader-pid PID [--only GROUP,...]
// Exits 0 when every check held; otherwise prints the failed check and exits 1.
'use strict';

const Redis = require('ioredis');

function args() {
  const out = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i + 1 < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  for (const name of ['follower', 'other', 'leader-pid']) {
    if (!out[name]) throw new Error(`--${name} is required`);
  }
  return out;
}
const ARGS = args();

function connect(endpoint) {
  const at = endpoint.lastIndexOf(':');
  return new Redis({
    host: endpoint.slice(0, at),
    port: Number(endpoint.slice(at + 1)),
    maxRetriesPerRequest: 20,
    retryStrategy: (times) => Math.min(times * 20, 500),
    lazyConnect: false,
  });
}

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

async function expectError(promise, fragment) {
  try {
    await promise;
  } catch (e) {
    check(String(e.message).includes(fragment), `error ${e.message} lacks ${fragment}`);
    return;
  }
  throw new Error(`no error, expected one with ${fragment}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function strings(r) {
  await r.flushdb();
  check((await r.set('k', 'v')) === 'OK', 'SET');
  check((await r.get('k')) === 'v', 'GET');
  check((await r.set('k', 'w', 'NX')) === null, 'SET NX on a key');
  check((await r.set('k', 'w', 'XX', 'GET')) === 'v', 'SET XX GET');
  await r.set('t', '1', 'EX', 100);
  check((await r.ttl('t')) >= 99, 'SET EX');
  await r.set('p', '1', 'PX', 100000);
  check((await r.pttl('p')) > 90000, 'SET PX');
  check((await r.setnx('n', '1')) === 1 && (await r.setnx('n', '2')) === 0, 'SETNX');
  await r.setex('e', 50, 'x');
  check((await r.ttl('e')) > 40, 'SETEX');
  await r.psetex('pe', 50000, 'x');
  check((await r.pttl('pe')) > 40000, 'PSETEX');
  check((await r.getset('k', 'g')) === 'w', 'GETSET');
  check((await r.getdel('k')) === 'g' && (await r.get('k')) === null, 'GETDEL');
  await r.set('gx', 'v');
  check((await r.getex('gx', 'EX', 100)) === 'v' && (await r.ttl('gx')) > 90, 'GETEX');
  check((await r.mset({ m1: '1', m2: '2' })) === 'OK', 'MSET');
  const got = await r.mget('m1', 'm2', 'nope');
  check(got[0] === '1' && got[1] === '2' && got[2] === null, 'MGET');
  check((await r.msetnx('m3', '3', 'm1', 'x')) === 0, 'MSETNX refused');
  check((await r.append('s', 'ab')) === 2 && (await r.append('s', 'cd')) === 4, 'APPEND');
  check((await r.strlen('s')) === 4 && (await r.getrange('s', 1, -2)) === 'bc', 'STRLEN GETRANGE');
  check((await r.setrange('s', 1, 'ZZ')) === 4 && (await r.get('s')) === 'aZZd', 'SETRANGE');
  check((await r.incr('c')) === 1 && (await r.incrby('c', 10)) === 11, 'INCR INCRBY');
  check((await r.decr('c')) === 10 && (await r.decrby('c', 5)) === 5, 'DECR DECRBY');
  check((await r.incrbyfloat('f', '1.5')) === '1.5', 'INCRBYFLOAT');
  await expectError(r.incr('s'), 'not an integer');
  check((await r.type('s')) === 'string' && (await r.type('nope')) === 'none', 'TYPE');
  const binary = Buffer.from([0, 0xff, 0xfe, 0x20, 0x6b]);
  await r.set(binary, Buffer.from([0, 0x76, 0xff]));
  check(Buffer.compare(await r.getBuffer(binary), Buffer.from([0, 0x76, 0xff])) === 0, 'binary key and value');
}

async function keys(r) {
  await r.flushdb();
  await r.mset('a', '1', 'b', '2', 'c', '3');
  check((await r.exists('a', 'b', 'a', 'zz')) === 3, 'EXISTS');
  check((await r.del('a', 'zz')) === 1 && (await r.unlink('b')) === 1, 'DEL UNLINK');
  await r.set('src', 'v', 'EX', 100);
  check((await r.rename('src', 'dst')) === 'OK' && (await r.ttl('dst')) > 90, 'RENAME keeps the TTL');
  await expectError(r.rename('src', 'x'), 'no such key');
  await r.set('x', '1');
  check((await r.renamenx('dst', 'x')) === 0 && (await r.renamenx('dst', 'y')) === 1, 'RENAMENX');
  check((await r.copy('y', 'z')) === 1 && (await r.copy('y', 'z')) === 0, 'COPY');
  check((await r.expire('z', 100)) === 1 && (await r.ttl('z')) >= 99, 'EXPIRE');
  check((await r.pexpire('z', 200000)) === 1 && (await r.pttl('z')) > 190000, 'PEXPIRE');
  const now = Math.floor(Date.now() / 1000);
  check((await r.expireat('z', now + 300)) === 1 && (await r.ttl('z')) > 290, 'EXPIREAT');
  check((await r.pexpireat('z', Date.now() + 400000)) === 1 && (await r.ttl('z')) > 390, 'PEXPIREAT');
  check(Math.abs((await r.expiretime('z')) - (now + 400)) <= 2, 'EXPIRETIME');
  check((await r.persist('z')) === 1 && (await r.ttl('z')) === -1 && (await r.ttl('nope')) === -2, 'PERSIST TTL');
  check((await r.expire('z', 100, 'NX')) === 1 && (await r.expire('z', 50, 'NX')) === 0, 'EXPIRE NX');
  await r.flushdb();
  check((await r.dbsize()) === 0, 'FLUSHDB');
  const names = new Set();
  for (let i = 0; i < 250; ++i) names.add(`key:${i}`);
  const all = [...names];
  for (let at = 0; at < all.length; at += 50) await r.mset(...all.slice(at, at + 50).flatMap((k) => [k, 'v']));
  check((await r.dbsize()) === 250, 'DBSIZE');
  const seen = new Set();
  await new Promise((resolve, reject) => {
    const stream = r.scanStream({ count: 17 });
    stream.on('data', (batch) => batch.forEach((k) => seen.add(k)));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  check(seen.size === 250 && all.every((k) => seen.has(k)), `SCAN walks every key (${seen.size})`);
  check((await r.keys('key:2*')).length === 61, 'KEYS');
  check(names.has(await r.randomkey()), 'RANDOMKEY');
  check((await r.flushall()) === 'OK' && (await r.randomkey()) === null, 'FLUSHALL');
}

async function transactions(r) {
  await r.flushdb();
  const res = await r.multi().set('t1', 'a').incr('t2').get('t1').exec();
  check(JSON.stringify(res) === JSON.stringify([[null, 'OK'], [null, 1], [null, 'a']]), `MULTI/EXEC ${JSON.stringify(res)}`);
  const twice = await r.multi().incr('rl').expire('rl', 60).set('x', '1').incr('x').exec();
  check(JSON.stringify(twice) === JSON.stringify([[null, 1], [null, 1], [null, 'OK'], [null, 2]]) &&
    (await r.ttl('rl')) === 60, `MULTI/EXEC writing a key twice ${JSON.stringify(twice)}`);
  const other = connect(ARGS.other);
  await r.watch('t2');
  await other.set('t2', '99');
  check((await r.multi().set('t2', '0').exec()) === null, 'EXEC after a watched key changed');
  check((await r.get('t2')) === '99', 'a failed EXEC applies nothing');
  other.disconnect();
  // MULTI sent at once (not ioredis's buffered transaction): the command is queued, then dropped.
  check((await r.multi({ pipeline: false })) === 'OK' && (await r.set('t3', '1')) === 'QUEUED', 'MULTI');
  check((await r.discard()) === 'OK' && (await r.exists('t3')) === 0, 'DISCARD');
  check((await r.unwatch()) === 'OK', 'UNWATCH');
  const p = r.pipeline();
  for (let i = 0; i < 100; ++i) p.incr('pipelined');
  const answers = (await p.exec()).map(([, v]) => v);
  check(answers.every((v, i) => v === i + 1), 'pipeline');
}

async function server(r) {
  check((await r.ping()) === 'PONG' && (await r.echo('hi')) === 'hi', 'PING ECHO');
  await r.client('SETNAME', 'node');
  check((await r.client('GETNAME')) === 'node', 'CLIENT SETNAME GETNAME');
  check(Number.isInteger(await r.client('ID')), 'CLIENT ID');
  check((await r.client('LIST')).includes('name=node'), 'CLIENT LIST');
  const info = await r.info('replication');
  check(info.includes('role:slave'), 'INFO replication on a follower');
  check(Array.isArray(await r.config('GET', 'maxclients')), 'CONFIG GET');
  const [seconds] = await r.time();
  check(Math.abs(Number(seconds) - Date.now() / 1000) < 5, 'TIME');
  check((await r.command('COUNT')) > 50, 'COMMAND COUNT');
  check((await r.select(0)) === 'OK', 'SELECT 0');
  check((await r.client('INFO')).includes('name=node'), 'CLIENT INFO');
  check((await r.readonly()) === 'OK' && (await r.get('nope')) === null, 'READONLY');
  check((await r.readwrite()) === 'OK', 'READWRITE');
  await r.set('s', 'x');
  await expectError(r.lpush('s', 'x'), 'WRONGTYPE');
}

async function pubsub() {
  const sub = connect(ARGS.follower);
  const pub = connect(ARGS.follower);
  const received = new Promise((resolve) => sub.on('message', (channel, message) => resolve([channel, message])));
  check((await sub.subscribe('news')) === 1, 'SUBSCRIBE');
  check((await pub.publish('news', 'hello')) >= 1, 'PUBLISH');
  const [channel, message] = await Promise.race([received, sleep(5000).then(() => [null, null])]);
  check(channel === 'news' && message === 'hello', 'message received');
  check(JSON.stringify(await pub.pubsub('CHANNELS')) === '["news"]', 'PUBSUB CHANNELS');
  check(JSON.stringify(await pub.pubsub('NUMSUB', 'news')) === '["news",1]', 'PUBSUB NUMSUB');
  const patterned = new Promise((resolve) => sub.on('pmessage', (pattern, ch, msg) => resolve([pattern, ch, msg])));
  check((await sub.psubscribe('n*')) === 2, 'PSUBSCRIBE');
  check((await pub.pubsub('NUMPAT')) === 1, 'PUBSUB NUMPAT');
  await pub.publish('nba', 'score');
  const got = await Promise.race([patterned, sleep(5000).then(() => [])]);
  check(JSON.stringify(got) === '["n*","nba","score"]', `pmessage ${JSON.stringify(got)}`);
  sub.disconnect();
  pub.disconnect();
}

async function search(r) {
  await r.flushdb();
  await r.set('doc:1', 'the quick brown fox');
  await r.set('doc:2', 'a lazy brown dog');
  const reply = await r.call('FT.SEARCH', 'kv', 'brown', 'NOCONTENT');
  check(reply[0] === 2 && reply.slice(1).sort().join() === 'doc:1,doc:2', `FT.SEARCH ${JSON.stringify(reply)}`);
  const scored = await r.call('FT.SEARCH', 'kv', 'quick', 'WITHSCORES');
  check(scored[0] === 1 && scored[1] === 'doc:1' && JSON.stringify(scored[3]) === '["value","the quick brown fox"]',
    `FT.SEARCH WITHSCORES ${JSON.stringify(scored)}`);
  const similar = await r.call('FT.SIMILAR', 'kv', 'quick brown fax', 'NOCONTENT');
  check(similar[0] >= 1 && similar[1] === 'doc:1', `FT.SIMILAR ${JSON.stringify(similar)}`);
}

async function leaderKill(r) {
  const acked = new Map();
  const errors = [];
  let killed = false;
  setTimeout(() => {
    process.kill(Number(ARGS['leader-pid']), 'SIGKILL');
    killed = true;
  }, 500);
  let after = 0;
  const deadline = Date.now() + 60000;
  for (let i = 0; after < 300 && Date.now() < deadline; ++i) {
    const key = `kill:${i}`;
    try {
      if ((await r.set(key, String(i))) === 'OK') {
        acked.set(key, String(i));
        if (killed) ++after;
      }
    } catch (e) {
      errors.push(e.message);
    }
  }
  check(after === 300, `writes did not resume after the leader was killed: ${errors.slice(-3)}`);
  check(errors.length <= 5, `${errors.length} writes failed during the failover: ${errors.slice(0, 3)}`);
  const other = connect(ARGS.other);
  const names = [...acked.keys()];
  for (let at = 0; at < names.length; at += 100) {
    const chunk = names.slice(at, at + 100);
    const values = await other.mget(...chunk);
    check(values.every((v, i) => v === acked.get(chunk[i])), 'an acknowledged write was lost');
  }
  other.disconnect();
  console.log(`leader kill: ${acked.size} writes acknowledged, ${after} after the kill, ${errors.length} refused`);
}

async function main() {
  const r = connect(ARGS.follower);
  const groups = [['strings', strings], ['keys', keys], ['transactions', transactions], ['server', server],
    ['pubsub', pubsub], ['search', search]];
  const only = ARGS.only ? ARGS.only.split(',') : [];
  for (const [name, fn] of groups) {
    if (only.length && !only.includes(name)) continue;
    try {
      await fn(r);
      console.log(`ok: ${name}`);
    } catch (e) {
      console.log(`FAILED: ${name}: ${e.stack}`);
      r.disconnect();
      return 1;
    }
  }
  if (!only.length || only.includes('leader-kill')) {
    await leaderKill(r);
    console.log('ok: leader kill');
  }
  r.disconnect();
  return 0;
}

main().then((code) => process.exit(code), (e) => {
  console.log(`FAILED: ${e.stack}`);
  process.exit(1);
});
