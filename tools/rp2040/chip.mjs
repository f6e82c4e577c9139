// The emulated RP2040: rp2040js running the real MicroPython rp2 port.
//
// Why it exists: the host tests run MicroPython's unix port at host speed
// with a folder for flash; a Pico runs the same bytecode far slower and
// stalls while littlefs erases flash. This process is the chip and nothing
// else: CPU, peripherals, flash, USB CDC. Everything outside the chip (the
// pump, the sensors' wire protocols, the buttons, mpremote's TCP bridge)
// lives in Python (tools/rp2040/bench.py), which drives this process over
// stdin/stdout, one JSON object per line, strictly request/answer:
//
//   {"op":"run","ns":N}        run N ns of virtual time; answers
//        {"ev":"ran"|"i2c"|"edge"|"reset", "t":ns, "usb":hex, "pins":{...}, ...}
//        An I2C address or a watched edge stops the run early: the answer
//        describes it (with the bus events queued before it) and, for I2C,
//        the next request answers it ("i2c_done" with ack and the bytes a
//        read will get).
//   {"op":"drive","pins":{"10":1,"11":null}}   drive pins from outside (null: let go)
//   {"op":"adc","ch":0,"v":2048}               the next conversions on ADC channel ch
//   {"op":"usb","hex":"0d0a"}                   bytes for the board's USB CDC (queued)
//   {"op":"i2c_done","ack":true,"data":[64,1,2,3]}
//   {"op":"watch","pins":[16,17],"edges":[2]}   pins reported, pins whose edges stop a run
//   {"op":"reboot","cause":"power"|"watchdog"} a fresh chip on the same flash
//   {"op":"flash_timing","erase_ns":..,"page_ns":..}
//   {"op":"save","path":...}                    write the 2 MB flash image
//   {"op":"stats"}                              flash-operation counters
//
// Virtual time is cycle counted (125 MHz); XIP wait states are not modelled.
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { RP2040, USBCDC } from 'rp2040js';

const FLASH_BASE = 0x10000000;
const FLASH_SIZE = 2 * 1024 * 1024;     // the Pico's W25Q16JV
const CYCLE_NS = 8;                      // 125 MHz
const FUNC_PWM = 4;
const FUNC_SIO = 5;
// Boot ROM functions littlefs reaches through the ROM table; rp2040js does
// not implement them, so their first instruction becomes a BKPT handled here.
const BKPT_ERASE = 0x31;
const BKPT_PROGRAM = 0x32;

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const i = a.indexOf('=');
  return [a.slice(2, i), a.slice(i + 1)];
}));

function romWords(path) {
  const b = readFileSync(path);
  return new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
}

function loadUF2(flash, path) {
  const b = readFileSync(path);
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  for (let off = 0; off + 512 <= b.length; off += 512) {
    if (v.getUint32(off, true) !== 0x0a324655 || v.getUint32(off + 4, true) !== 0x9e5d5157) {
      throw new Error(`${path}: block at ${off} is not a UF2 block`);
    }
    const addr = v.getUint32(off + 12, true);
    const size = v.getUint32(off + 16, true);
    if (addr < FLASH_BASE || addr + size > FLASH_BASE + FLASH_SIZE) {
      throw new Error(`${path}: block for 0x${addr.toString(16)} is outside the flash`);
    }
    flash.set(b.subarray(off + 32, off + 32 + size), addr - FLASH_BASE);
  }
}

// ROM function table: halfword pointer at 0x14, entries (code, thumb ptr).
function romFunction(rom16, code) {
  let p = rom16[0x14 >> 1] >> 1;
  for (;;) {
    const c = rom16[p];
    if (!c) throw new Error('ROM function not found: ' + code);
    if (c === (code.charCodeAt(0) | (code.charCodeAt(1) << 8))) return rom16[p + 1] & ~1;
    p += 2;
  }
}

const bootrom = romWords(args.bootrom);
const patched = new Uint32Array(bootrom);
{
  const rom16 = new Uint16Array(patched.buffer);
  rom16[romFunction(rom16, 'RE') >> 1] = 0xbe00 | BKPT_ERASE;
  rom16[romFunction(rom16, 'RP') >> 1] = 0xbe00 | BKPT_PROGRAM;
}

let flashImage = new Uint8Array(FLASH_SIZE).fill(0xff);
if (args.image) flashImage.set(readFileSync(args.image).subarray(0, FLASH_SIZE));
else loadUF2(flashImage, args.uf2);

const timing = { erase_ns: 0, page_ns: 0 };
// The SIO model warns on console for the inter-core FIFO it lacks.
console.warn = () => { stats.log_warnings++; };
let lastError = null;
const stats = { log_warnings: 0, log_errors: 0, exec_ns: 0, wait_ns: 0, erases: 0, pages: 0, stall_ns: 0, longest_op_ns: 0 };
let usbConnected = false;
let heldRead = null, releaseRead = () => {};
let mcu, cdc, usbOut = [], usbIn = [], pending = null, stop = null, resetCause = null;
let driven = new Map(), watched = [], edgePins = new Set();

function padLevel(pin, idx) {
  // rp2040js has no pull resistors and an output does not read back its
  // own level: MicroPython's Pin.value() needs both.
  if (pin.outputEnable) return pin.outputValue;
  if (driven.has(idx)) return driven.get(idx);
  if (pin.pullupEnabled) return true;
  if (pin.pulldownEnabled) return false;
  return false;
}

function boot(cause) {
  const prevReason = mcu ? mcu.peripherals[0x40058000 >>> 14 << 2].reason : 0;
  mcu = new RP2040();
  // The package logs reads of peripherals it lacks (the inter-core FIFO,
  // polled around flash writes): count them, keep stdout for the protocol.
  mcu.logger = { debug() {}, info() {}, warn() { stats.log_warnings++; }, error(c, m) { stats.log_errors++; lastError = c + ': ' + m; } };
  mcu.loadBootrom(patched);
  mcu.flash.set(flashImage);
  flashImage = mcu.flash;            // one array: writes land in it
  // A watchdog or machine.reset() reboot keeps the watchdog's REASON
  // register (MicroPython's reset_cause reads it); a power-up clears it.
  if (cause === 'watchdog') mcu.peripherals[0x40058000 >>> 14 << 2].reason = prevReason || 1;
  // The package re-arms its watchdog alarm after it fires; counting down
  // from 0 that alarm is due again at once and the clock loops on it
  // forever. A real trigger resets the chip (and the watchdog with it): stop
  // the counter here, the bench starts a fresh chip.
  const wd = mcu.peripherals[0x40058000 >>> 14 << 2];
  wd.onWatchdogTrigger = () => {
    wd.alarm.enable = false;
    wd.timer.enable = false;
    resetCause = 'watchdog';
    stop = 'reset';
  };
  mcu.onBreak = onBreak;
  mcu.gpio.forEach((pin, idx) => {
    pin.addListener(() => {
      const lvl = padLevel(pin, idx);
      if (lvl !== pin.inputValue || lvl !== pin.rawInputValue) pin.setInputValue(lvl);
      if (edgePins.has(idx) && !stop) stop = 'edge:' + idx;
    });
    pin.setInputValue(padLevel(pin, idx));
  });
  mcu.i2c.forEach((bus, n) => {
    i2cRead[n] = [];
    bus.onStart = (repeated) => i2cEvent(n, { kind: 'start', repeated });
    bus.onConnect = (address, mode) => i2cEvent(n, { kind: 'connect', address, read: mode === 1 });
    bus.onWriteByte = (value) => i2cEvent(n, { kind: 'write', value });
    bus.onReadByte = (ack) => i2cEvent(n, { kind: 'read', ack });
    bus.onStop = () => i2cEvent(n, { kind: 'stop' });
    // An abort (a NACKed address or byte) flushes the TX FIFO; on the chip
    // TX_EMPTY is a level (FIFO at or below IC_TX_TL, shift register idle:
    // RP2040 datasheet, IC_RAW_INTR_STAT), so it reads 1 from then on. The
    // package sets it only when it pulls a command, and the SDK's write
    // loop, which waits for TX_EMPTY before it looks at the abort source,
    // then ran into MicroPython's 50 ms timeout (ETIMEDOUT) where a board
    // returns EIO within the address byte.
    const abort = bus.abort.bind(bus);
    bus.abort = (reason) => { abort(reason); bus.setInterrupts(I2C_TX_EMPTY); };
  });
  cdc = new USBCDC(mcu.usbCtrl);
  // The package answers a bulk OUT read at once, with zero bytes when the
  // host has nothing to send; TinyUSB re-arms and the core never sleeps
  // (an idle REPL ran at 94 % load). Hold an empty read until bytes come,
  // as a USB host does.
  const answerRead = mcu.usbCtrl.onEndpointRead;
  heldRead = null;
  mcu.usbCtrl.onEndpointRead = (ep, size) => {
    if (ep === cdc.outEndpoint && cdc.txFIFO.empty) { heldRead = [ep, size]; return; }
    answerRead(ep, size);
  };
  releaseRead = () => {
    if (heldRead && !cdc.txFIFO.empty) { const [ep, size] = heldRead; heldRead = null; answerRead(ep, size); }
  };
  cdc.onSerialData = (buf) => { for (const b of buf) usbOut.push(b); };
  cdc.onDeviceConnected = () => { usbConnected = true; };
  mcu.core.PC = FLASH_BASE;
}

const I2C_TX_EMPTY = 1 << 4;            // IC_RAW_INTR_STAT.TX_EMPTY

// I2C, the controller side of each byte. Only an address needs an answer
// from the target model (ACK or NACK, and for a read the bytes it will
// send): the run stops there. Starts, stops and written bytes are ACKed
// here (a part that acknowledged its address acknowledges its bytes) and
// queued for the model, reads are served from the bytes it gave. Each
// completes after its bus time: 9 SCL periods a byte, 1 for start and stop.
let i2cLog = [], i2cRead = [[], []];

function byteTimeNs(bus) {
  const b = mcu.i2c[bus];
  const period = (b.sclHighPeriod + b.sclLowPeriod) || 1;
  return Math.round(9 * period * 1e9 / mcu.clkSys);
}

function i2cEvent(bus, ev) {
  const b = mcu.i2c[bus];
  if (ev.kind === 'connect') {
    pending = { bus, ...ev, queued: i2cLog };
    i2cLog = [];
    stop = 'i2c';
    return;
  }
  let done;
  if (ev.kind === 'start') { i2cLog.push({ bus, kind: 'start', repeated: ev.repeated, t: mcu.clock.nanos }); done = () => b.completeStart(); }
  else if (ev.kind === 'stop') { i2cLog.push({ bus, kind: 'stop', t: mcu.clock.nanos }); done = () => b.completeStop(); }
  else if (ev.kind === 'write') { i2cLog.push({ bus, kind: 'write', value: ev.value, t: mcu.clock.nanos }); done = () => b.completeWrite(true); }
  else { const q = i2cRead[bus]; const v = q.length ? q.shift() : 0xff; done = () => b.completeRead(v); }
  mcu.clock.createAlarm(done).schedule(ev.kind === 'start' || ev.kind === 'stop' ? byteTimeNs(bus) / 9 : byteTimeNs(bus));
}

function completeI2C(req) {
  const p = pending;
  pending = null;
  i2cRead[p.bus] = req.ack && req.data ? req.data.slice() : [];
  const bus = mcu.i2c[p.bus];
  mcu.clock.createAlarm(() => bus.completeConnect(!!req.ack)).schedule(byteTimeNs(p.bus));
}

let stalls = [];

function stall(ns) {
  // XIP is off while the flash erases or programs: the whole chip stops.
  // Timers and the watchdog run on (they are clocked, not executed). Each
  // operation is reported with what the pump's pins carried meanwhile.
  stalls.push([mcu.clock.nanos, ns, pinReport()]);
  if (ns <= 0) return;
  mcu.clock.tick(ns);
  stats.stall_ns += ns;
  if (ns > stats.longest_op_ns) stats.longest_op_ns = ns;
}

function onBreak(code) {
  const core = mcu.core;
  const r = core.registers;
  if (code === BKPT_ERASE) {
    // flash_range_erase(offs, count, block_size, block_cmd): 4 KB sectors.
    const offs = r[0] >>> 0, count = r[1] >>> 0;
    flashImage.fill(0xff, offs, Math.min(offs + count, FLASH_SIZE));
    const sectors = Math.ceil(count / 4096);
    stats.erases += sectors;
    stall(sectors * timing.erase_ns);
  } else if (code === BKPT_PROGRAM) {
    // flash_range_program(offs, data, count): NOR flash only clears bits.
    const offs = r[0] >>> 0, data = r[1] >>> 0, count = r[2] >>> 0;
    for (let i = 0; i < count; i++) flashImage[offs + i] &= mcu.readUint8(data + i);
    const pages = Math.ceil(count / 256);
    stats.pages += pages;
    stall(pages * timing.page_ns);
  } else {
    return;
  }
  core.breakRewind = 0;
  core.BXWritePC(core.LR);
}

function pinReport() {
  const out = {};
  for (const idx of watched) {
    const pin = mcu.gpio[idx];
    const fn = pin.functionSelect;
    if (fn === FUNC_PWM) {
      // The duty the load sees: the slice's CC over TOP+1 (as latched at
      // the last wrap), inverted if the channel is; 0 while the slice is off.
      const ch = mcu.pwm.channels[(idx >> 1) & 7];
      const b = idx & 1;
      const cc = b ? ch.alarmB.target : ch.alarmA.target;
      let duty = (ch.csr & 1) ? Math.min(65535, Math.round(cc * 65536 / (ch.timer.top + 1))) : 0;
      if (ch.csr & (b ? 8 : 4)) duty = 65535 - duty;
      out[idx] = duty;
    } else if (fn === FUNC_SIO && pin.outputEnable) {
      out[idx] = pin.outputValue ? 65535 : 0;
    } else {
      out[idx] = -1;                     // not driven by the chip
    }
  }
  return out;
}

function feedUsb() {
  // Flow control: only as much as the CDC receive FIFO has room for.
  while (usbIn.length && !cdc.txFIFO.full) cdc.sendSerialByte(usbIn.shift());
  releaseRead();
}

function untilWake(clock, end) {
  const left = end - clock.nanos;
  return clock.nextAlarm ? Math.min(clock.nanosToNextAlarm, left) : left;
}

function run(ns, halt) {
  const clock = mcu.clock;
  const end = clock.nanos + ns;
  const core = mcu.core;
  stop = null;
  // halt: the core executes nothing (a hung firmware); clocked peripherals,
  // the watchdog among them, run on.
  // A sleeping (or halted) core wakes only at a clock alarm or at what the
  // bench does between runs: skip to the next alarm, or to the end of the
  // run when none is set (nanosToNextAlarm is 0 then, not infinity).
  while (halt && clock.nanos < end && !stop) clock.tick(Math.max(CYCLE_NS, untilWake(clock, end)));
  while (clock.nanos < end && !stop) {
    if (core.waiting) {
      const skip = Math.max(CYCLE_NS, untilWake(clock, end));
      clock.tick(skip);
      stats.wait_ns += skip;
    } else {
      const c = core.executeInstruction() * CYCLE_NS;
      clock.tick(c);
      stats.exec_ns += c;
    }
    if (usbIn.length && !cdc.txFIFO.full) feedUsb();
  }
  const ans = { ev: 'ran', t: clock.nanos, pins: pinReport() };
  if (usbOut.length) { ans.usb = Buffer.from(usbOut).toString('hex'); usbOut = []; }
  if (stalls.length) { ans.flash_ops = stalls; stalls = []; }
  if (stop === 'i2c') { ans.ev = 'i2c'; ans.i2c = pending; }
  else if (stop && stop.startsWith('edge:')) { ans.ev = 'edge'; ans.pin = +stop.slice(5); }
  else if (stop === 'reset') { ans.ev = 'reset'; ans.cause = resetCause; resetCause = null; }
  return ans;
}

function drive(pins) {
  for (const [k, v] of Object.entries(pins)) {
    const idx = +k;
    if (v === null) driven.delete(idx); else driven.set(idx, !!v);
    const pin = mcu.gpio[idx];
    pin.setInputValue(padLevel(pin, idx));
  }
}

function handle(req) {
  switch (req.op) {
    case 'run':
      if (req.adc) for (const [ch, v] of Object.entries(req.adc)) mcu.adc.channelValues[+ch] = v;
      if (req.drive) drive(req.drive);
      return run(req.ns, !!req.halt);
    case 'drive': drive(req.pins); return { ok: true };
    case 'adc': mcu.adc.channelValues[req.ch] = req.v; return { ok: true };
    case 'usb':
      for (const b of Buffer.from(req.hex, 'hex')) usbIn.push(b);
      feedUsb();
      return { ok: true, queued: usbIn.length };
    case 'i2c_done': completeI2C(req); return { ok: true };
    case 'watch': watched = req.pins || []; edgePins = new Set(req.edges || []); return { ok: true };
    case 'reboot': usbIn = []; usbOut = []; pending = null; i2cLog = []; boot(req.cause); return { ok: true, t: 0 };
    case 'flash_timing': timing.erase_ns = req.erase_ns; timing.page_ns = req.page_ns; return { ok: true };
    case 'save': writeFileSync(req.path, flashImage); return { ok: true };
    case 'stats': return { ok: true, ...stats, last_error: lastError, pc: mcu.core.PC, connected: usbConnected, t: mcu.clock.nanos, usb_pending: usbIn.length };
    case 'quit': process.exit(0);
  }
  return { error: 'unknown op ' + req.op };
}

boot('power');
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let ans;
  try { ans = handle(JSON.parse(line)); } catch (e) { ans = { error: String(e && e.stack || e) }; }
  process.stdout.write(JSON.stringify(ans) + '\n');
});
rl.on('close', () => process.exit(0));
