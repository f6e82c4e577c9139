"""Safety monitor: trips, latching and the blind-push guard.

Every trip is latched: the session forces motor 0 / valve open from the tick
that sees it until a stop press finds a fresh reading near ambient
(`can_clear`). Nothing here ever clears a fault by itself.

Trips and their detection bound (from the first bad reading, or from the
moment the condition becomes true), which the simulator's fault tests check:

- over_vacuum   reading above the active limit: the same tick.
- sensor_range  reading outside the sensor's physical range, or not an int
                (garbage from a driver), or a saturation code reported by
                the driver: the same tick.
- sensor_io     the driver raised an I/O error: the same tick.
- sensor_stale  no new reading for longer than stale_ms: stale_ms + 1 tick.
- sensor_stuck  a reading that does not change at all while the valve
                toggles STUCK_TOGGLES times with the motor running: two full
                cycles + 1 tick.
- release_fail  the valve was opened but the lowest reading did not fall
                below half the vacuum at opening (or VENT_FLOOR_PA) within
                release_check_ms, or by the end of a shorter release phase.
                If the last FROZEN_READINGS readings were all identical, the
                sensor is frozen rather than the valve stuck (a held vacuum
                still shows noise and leak decay): sensor_stuck instead.
- no_vacuum     a cycle mode (stimulation or expression) whose cycles keep
                peaking below half their target: no_vacuum_ms without one
                good cycle of that mode, counted from the end of its last good
                cycle (in mixed mode the easy stimulation cycles cannot hide
                failing expression cycles, and the stimulation cycles between
                two expression cycles do not delay the count), checked at each
                cycle's end: from the fault, no_vacuum_ms + two cycles (the
                cycle the fault falls in may still be good).

release_fail replaces an earlier latched trip (the valve does not vent: the
person must break the seal by hand, the most urgent thing to show); every
other trip keeps the first code.

Blind-push guard (not a trip): a motor pushing while the reading does not
rise is either a lost seal or a sensor that no longer follows the real
vacuum (frozen, saturated, its tube off, readings no longer arriving). In
the second case the real vacuum climbs unseen. Nothing on the tick path can
tell a frozen reading from a live one at the moment it freezes, so the guard
trusts a reading only as far as it has proved itself: a rise of
BLIND_RISE_PA (3 mmHg) plus 1/K of the model's rise since the last proof
shows the sensor follows the vacuum. From each proof (and each suction
start) the guard runs a model of the fastest plant the firmware supports on
the duty actually commanded: `pred`, the vacuum this push could have built,
starts at the proved reading plus the last tick's model rise (the push the
reading may not show yet). Each tick the duty is capped so that `pred`
after this tick stays at or below limit - GUARD_MARGIN_PA; below the stall
duty the motor is off (Session.tick, Control.capped). The setpoint plays no
part: a reading frozen near the setpoint gets no more push than one frozen
anywhere else (issue 10).

K (PROOF_K16 / 16) is 32 for a new session and falls to PROOF_K_PER_RATIO x
the smallest model/real rise ratio of a confirmed segment (one the reading
went on rising past, so it was following all through it), never below 8. A
reading that stopped just short of a proof and is then nudged over it by
noise can thus only forget (K x noise peak - 3 mmHg) of model rise, which on
this plant is about PROOF_K_PER_RATIO x the noise peak of real vacuum.

The bound, and what it assumes:
- the true vacuum rises at full duty at most rise(v) = RISE_AMB_PA_PER_MS at
  ambient, falling linearly to RISE_TOP_PA_PER_MS at RISE_TOP_PA and above
  (400 -> 160 Pa/ms), and at duty d at most d/65535 of that. The simulator's
  fastest plant in the supported range (-50 % volume, +50 % pump strength:
  3x the default) rises 342 -> 119 Pa/ms over that span (0.86-0.7 of the
  model); the default plant 114 -> 40 Pa/ms. A leak only lowers the rise;
- sensor noise peaks stay below BLIND_RISE_PA / 2 (1.5 mmHg; the simulated
  sensors have 0.3 mmHg RMS);
- GUARD_MARGIN_PA (10 mmHg), with the model's excess over the real plant,
  covers what the count does not see: the motor's spin-down after its duty
  falls (a rotor with time constant tau keeps pumping tau x its speed; 25 ms
  in the plant model) and a tick longer than the one before it.
Then a sensor that stops following at any instant leaves the true vacuum
below the limit for as long as it stays broken: `pred` never passes
limit - GUARD_MARGIN_PA, and what it does not count stays inside the margin
and the model's excess. sensor_stuck, release_fail or sensor_stale trip
within their bounds; a saturated reading that keeps its noise never trips
and is capped again every suction phase (the cycles fall short: the
"target not reached" blink, or no_vacuum). host_tests/test_safety_sweep.py
checks it for every instant of a cycle, 10 ms apart, on every board and
plant of the range (worst seen 236.6 mmHg of 250; docs/safety.md). The
cost for a healthy sensor: near the limit the model outruns a slow plant,
so a reading held flat at a top level gets a finite push per suction phase
and then coasts on the leak; peaks come before that.
"""
from array import array

from micropython import const

from pump import limits
from pump.codes import (FAULT_NONE, FAULT_NO_VACUUM, FAULT_OVER_VACUUM, FAULT_RELEASE_FAIL, FAULT_SENSOR_IO,
                        FAULT_SENSOR_RANGE, FAULT_SENSOR_STALE, FAULT_SENSOR_STUCK)
from pump.slots import ptr32, slot

STUCK_TOGGLES = const(4)          # valve changes = two full cycles
VENT_FLOOR_PA = const(2666)       # 20 mmHg: "vented" whatever the start
AMBIENT_BAND_PA = const(1333)     # 10 mmHg: near ambient, a fault may clear
# The fastest plant the guard assumes (full duty): RISE_AMB_PA_PER_MS at
# ambient, falling linearly to RISE_TOP_PA_PER_MS at RISE_TOP_PA and above.
RISE_AMB_PA_PER_MS = const(400)   # 3000 mmHg/s
RISE_TOP_PA_PER_MS = const(160)   # 1200 mmHg/s
RISE_TOP_PA = const(33331)        # 250 mmHg
BLIND_RISE_PA = const(400)        # 3 mmHg: the rise that proves a response ...
# ... plus 1/K of the model's rise since the last proof; K x 16, learned per
# session: PROOF_K_PER_RATIO x the smallest model/real ratio of a confirmed segment.
PROOF_K_PER_RATIO = const(6)
PROOF_K16_MAX = const(512)        # K = 32 until the plant has shown its speed
PROOF_K16_MIN = const(128)        # K = 8
GUARD_MARGIN_PA = const(1333)     # keep blind vacuum 10 mmHg under the limit
GUARD_DT_MAX_MS = const(500)      # a longer tick is counted as this (small ints)
WEAK_MARGIN_PA = const(1333)      # peak 10 mmHg short of target is "weak"
WEAK_CYCLES = const(3)
FROZEN_READINGS = const(5)
# Timers saturate here (100 s) instead of growing for the days a board may sit
# idle: past 2^30 a 32-bit port would allocate a long int every tick.
TIMER_CAP_MS = const(100000)
# The monitor's own clock wraps at 2^29 ms (6 days); differences are taken
# modulo that, which is exact for any interval it measures (seconds).
T_MASK = const(0x1FFFFFFF)

# Slots of Monitor.s (pump/slots.py): observe, guard_duty and supervise run
# every tick and are viper code on an RP2040. The configuration first, then
# the state. The session reads the reading, its freshness and the fault
# through the public slots (a property would be a call on the tick path).
_LIMIT = const(0)
_SENSOR_MIN = const(1)
_SENSOR_MAX = const(2)
_STALE_MS = const(3)
_RELEASE_CHECK_MS = const(4)
_STUCK_BAND = const(5)
FAULT_SLOT = const(6)        # the latched trip (0 = none)
VAC_SLOT = const(7)          # the last valid reading, Pa
FRESH_SLOT = const(8)        # 1: a new valid reading this tick
_VALID = const(9)            # at least one valid reading seen
_SINCE_MS = const(10)        # since the last valid reading
_VALVE_WAS_OPEN = const(11)
_T_MS = const(12)            # the monitor's clock (ms, wraps at T_MASK)
_OPEN_AT = const(13)         # _T_MS when the valve last opened
_OPEN_VAC = const(14)
_OPEN_MIN = const(15)
_OPEN_SEEN = const(16)       # a fresh reading since the valve opened
_SAME_RUN = const(17)        # consecutive identical readings
_RELEASE_CHECKED = const(18)
_STUCK_REF = const(19)
_STUCK_TOGGLES = const(20)
_STUCK_MOTOR = const(21)
_RISE_REF = const(22)        # the reading at the last proof of response
_PRED = const(23)            # the vacuum the push since then could have built
_SEG_RATIO = const(24)       # model/real rise x 16 of the last proved segment
_PROOF_K16 = const(25)
_LAST_INC = const(26)
_N_SLOTS = const(27)
# What viper code compares a reading with while it is still an object (not
# const: a const would be a machine word, and viper compares a word with an
# object only through these). A reading outside a 31-bit word is above any
# limit or below any sensor's range.
_NONE = None
_INT = int
_WORD_MAX = 0x3FFFFFFF
_WORD_MIN = -0x40000000


class SafetyConfig:
    """Limits the monitor enforces; every value is clamped to limits.py."""

    def __init__(self, limit_pa, sensor_min_pa=-6666, sensor_max_pa=None, stale_ms=100,
                 release_check_ms=250, no_vacuum_ms=10000, stuck_band_pa=0):
        self.limit_pa = min(limit_pa, limits.HARD_MAX_VACUUM_PA)
        self.sensor_min_pa = sensor_min_pa
        self.sensor_max_pa = sensor_max_pa if sensor_max_pa is not None else 2 * limits.HARD_MAX_VACUUM_PA
        self.stale_ms = min(stale_ms, limits.HARD_MAX_STALE_MS)
        self.release_check_ms = min(release_check_ms, limits.HARD_MAX_RELEASE_CHECK_MS)
        self.no_vacuum_ms = min(no_vacuum_ms, limits.HARD_MAX_NO_VACUUM_S * 1000)
        self.stuck_band_pa = stuck_band_pa


class Monitor:
    def __init__(self, cfg):
        self.cfg = cfg
        s = array("i", [0] * _N_SLOTS)
        self.s = s
        s[_LIMIT] = cfg.limit_pa
        # A sensor's range inside the word: no reading outside it gets this far.
        s[_SENSOR_MIN] = max(cfg.sensor_min_pa, _WORD_MIN)
        s[_SENSOR_MAX] = min(cfg.sensor_max_pa, _WORD_MAX)
        s[_STALE_MS] = cfg.stale_ms
        s[_RELEASE_CHECK_MS] = cfg.release_check_ms
        s[_STUCK_BAND] = cfg.stuck_band_pa
        self.trip_reading = None     # the value that caused the last trip
        # The valve is open at boot: the first readings must show ambient.
        s[_VALVE_WAS_OPEN] = 1
        s[_PROOF_K16] = PROOF_K16_MAX
        self.bad = [False, False]     # per cycle mode: a no-vacuum streak is running
        self.bad_since = [0, 0]       # t_ms when that streak began
        self.good = [False, False]    # per cycle mode: a good cycle this session ...
        self.good_end = [0, 0]        # ... and t_ms at the end of the last one
        self.weak_cycles = 0

    # What the tests read (the session reads the slots).
    fault = slot(FAULT_SLOT)
    vacuum_pa = slot(VAC_SLOT)
    fresh = slot(FRESH_SLOT, True)
    since_reading_ms = slot(_SINCE_MS)
    t_ms = slot(_T_MS)
    rise_ref = slot(_RISE_REF)
    pred_pa = slot(_PRED)
    seg_ratio = slot(_SEG_RATIO)
    proof_k16 = slot(_PROOF_K16)
    last_inc = slot(_LAST_INC)

    # -- latching -----------------------------------------------------------
    def trip(self, code, reading=None):
        s = self.s
        fault = s[FAULT_SLOT]
        if fault == FAULT_NONE or (code == FAULT_RELEASE_FAIL and fault != code):
            s[FAULT_SLOT] = code
            self.trip_reading = reading
        return s[FAULT_SLOT]

    def can_clear(self):
        """A stop press may clear a trip only with a fresh, valid reading near
        ambient: the sensor works again and the breast is not under vacuum."""
        s = self.s
        return (s[_VALID] != 0 and s[_SINCE_MS] <= s[_STALE_MS]
                and -AMBIENT_BAND_PA <= s[VAC_SLOT] <= AMBIENT_BAND_PA)

    def clear(self):
        if not self.can_clear():
            return False
        self.s[FAULT_SLOT] = FAULT_NONE
        self.trip_reading = None
        self.new_session()
        return True

    def new_session(self):
        s = self.s
        self.bad[0] = self.bad[1] = False
        self.good[0] = self.good[1] = False
        self.weak_cycles = 0
        s[_STUCK_TOGGLES] = 0
        s[_STUCK_MOTOR] = 0
        s[_RISE_REF] = s[_PRED] = s[VAC_SLOT]
        s[_SEG_RATIO] = 0
        s[_PROOF_K16] = PROOF_K16_MAX

    # -- every tick, before anything is decided -----------------------------
    # (viper on an RP2040: tools/deploy.py VIPER_FUNCTIONS)
    def observe(self, dt_ms: int, reading, sensor_fault: int) -> int:
        """Check the sensor side. Returns the latched fault (0 = none).
        `reading` is Pa (int) or None for no new reading this tick;
        `sensor_fault` is 0 or the FAULT_SENSOR_* code the driver reported."""
        s = ptr32(self.s)
        s[FRESH_SLOT] = 0
        since = s[_SINCE_MS]
        if dt_ms > 0:
            s[_T_MS] = (s[_T_MS] + dt_ms) & T_MASK
            if since < TIMER_CAP_MS:
                since += dt_ms
                s[_SINCE_MS] = since
        if sensor_fault:
            code = FAULT_SENSOR_RANGE        # (the codes are objects here: imported names)
            if sensor_fault == int(FAULT_SENSOR_IO):
                code = FAULT_SENSOR_IO
            elif sensor_fault == int(FAULT_SENSOR_STALE):
                code = FAULT_SENSOR_STALE
            return int(self.trip(code, reading))
        if reading is not _NONE:
            if type(reading) is not _INT:
                return int(self.trip(FAULT_SENSOR_RANGE, reading))
            if reading > _WORD_MAX:
                return int(self.trip(FAULT_OVER_VACUUM, reading))
            if reading < _WORD_MIN:
                return int(self.trip(FAULT_SENSOR_RANGE, reading))
            r = int(reading)
            if r > s[_LIMIT]:
                return int(self.trip(FAULT_OVER_VACUUM, reading))
            if r < s[_SENSOR_MIN] or r > s[_SENSOR_MAX]:
                return int(self.trip(FAULT_SENSOR_RANGE, reading))
            s[_SINCE_MS] = 0
            if r == s[VAC_SLOT]:
                if s[_SAME_RUN] < FROZEN_READINGS:
                    s[_SAME_RUN] += 1
            else:
                s[_SAME_RUN] = 0
            s[VAC_SLOT] = r
            s[_VALID] = 1
            s[FRESH_SLOT] = 1
            if since > s[_STALE_MS]:
                return int(self.trip(FAULT_SENSOR_STALE, reading))
        elif since > s[_STALE_MS]:
            return int(self.trip(FAULT_SENSOR_STALE))
        return s[FAULT_SLOT]

    # -- the blind-push guard, asked by the session during suction ----------
    def suction_start(self):
        s = self.s
        s[_RISE_REF] = s[_PRED] = s[VAC_SLOT]
        s[_SEG_RATIO] = 0                    # a segment never spans a release
        s[_LAST_INC] = 0

    # (viper on an RP2040: tools/deploy.py VIPER_FUNCTIONS)
    def guard_duty(self, dt_ms: int, duty: int) -> int:
        """The duty the motor may have this tick (<= duty): the push since
        the reading last proved it follows must not have built more than
        limit - GUARD_MARGIN_PA on the fastest plant (see the module doc)."""
        s = ptr32(self.s)
        v = s[VAC_SLOT]
        ref = s[_RISE_REF]
        d = v - ref
        pred = s[_PRED]
        push = pred - ref                    # the model's rise since the last proof
        # A proof: a rise of BLIND_RISE_PA, plus 1/K of the model's rise
        # since the last one (noise on a reading that stopped just short of
        # a proof cannot complete it once the push has gone on).
        if d >= BLIND_RISE_PA + (push << 4) // s[_PROOF_K16]:
            # The previous segment is confirmed: the reading went on rising
            # past it, so it was following all through it. Its model/real
            # ratio says how fast this plant really is; K follows the fastest.
            k16 = s[_SEG_RATIO] * PROOF_K_PER_RATIO
            if 0 < k16 < s[_PROOF_K16]:
                s[_PROOF_K16] = k16 if k16 > PROOF_K16_MIN else PROOF_K16_MIN
            s[_SEG_RATIO] = (push << 4) // d
            s[_RISE_REF] = v                 # a response: the vacuum is what it reads ...
            pred = v + s[_LAST_INC]          # ... up to the last tick's push it may not show yet
        elif v > pred:
            pred = v                         # never below what it reads
        room = s[_LIMIT] - GUARD_MARGIN_PA - pred
        if room <= 0:
            s[_PRED] = pred
            s[_LAST_INC] = 0
            return 0
        if dt_ms > GUARD_DT_MAX_MS:
            dt_ms = GUARD_DT_MAX_MS
        elif dt_ms < 1:
            dt_ms = 1
        rise = RISE_TOP_PA_PER_MS
        if pred < RISE_TOP_PA:
            rise = RISE_AMB_PA_PER_MS - ((RISE_AMB_PA_PER_MS - RISE_TOP_PA_PER_MS) * (pred if pred > 0 else 0)
                                         // RISE_TOP_PA)
        full = rise * dt_ms                  # Pa this tick at full duty (<= 200000)
        if full > room:
            cap = (room << 10) // full << 6  # the duty that builds just `room`
            if duty > cap:
                duty = cap
        # Pa this push can build: duty/65536 of full, rounded up (never less
        # than the push; with duty = cap still within room); < 2^28.
        inc = (((duty + 63) >> 6) * full + 1023) >> 10
        s[_PRED] = pred + inc
        s[_LAST_INC] = inc
        return duty

    # -- every tick, after the outputs are decided ---------------------------
    # (viper on an RP2040: tools/deploy.py VIPER_FUNCTIONS)
    def supervise(self, dt_ms: int, duty: int, valve_open: int, pumping: int) -> int:
        """Stuck sensor and release checks against the final outputs. The
        common tick (no valve change, no new reading) touches little state:
        this runs every tick on the board."""
        s = ptr32(self.s)
        fresh = s[FRESH_SLOT]
        opened = 1 if valve_open else 0
        if opened != s[_VALVE_WAS_OPEN]:
            s[_VALVE_WAS_OPEN] = opened
            if opened:                              # opened: a release window starts
                s[_OPEN_AT] = s[_T_MS]
                s[_OPEN_VAC] = s[VAC_SLOT]
                s[_OPEN_SEEN] = 0
                s[_RELEASE_CHECKED] = 0
            elif s[_RELEASE_CHECKED] == 0:
                self._check_release()               # release phase shorter than the check time
            if pumping:
                s[_STUCK_TOGGLES] += 1
        if opened and s[_RELEASE_CHECKED] == 0:
            if fresh:
                v = s[VAC_SLOT]
                if v < s[_OPEN_MIN] or s[_OPEN_SEEN] == 0:
                    s[_OPEN_MIN] = v
                    s[_OPEN_SEEN] = 1
            if (s[_T_MS] - s[_OPEN_AT]) & T_MASK >= s[_RELEASE_CHECK_MS]:
                self._check_release()
        if pumping:
            if duty > 0:
                s[_STUCK_MOTOR] = 1
            if fresh:
                d = s[VAC_SLOT] - s[_STUCK_REF]
                band = s[_STUCK_BAND]
                if d > band or d < -band:
                    s[_STUCK_REF] = s[VAC_SLOT]
                    s[_STUCK_TOGGLES] = 0
                    s[_STUCK_MOTOR] = 0
            if s[_STUCK_TOGGLES] >= STUCK_TOGGLES and s[_STUCK_MOTOR]:
                self.trip(FAULT_SENSOR_STUCK, s[VAC_SLOT])
        elif s[_STUCK_TOGGLES] or s[_STUCK_MOTOR] or fresh:
            s[_STUCK_REF] = s[VAC_SLOT]
            s[_STUCK_TOGGLES] = 0
            s[_STUCK_MOTOR] = 0
        return s[FAULT_SLOT]

    def _check_release(self):
        s = self.s
        if not s[_OPEN_SEEN]:
            return                  # no reading since opening: sensor_stale's job
        s[_RELEASE_CHECKED] = 1
        need = s[_OPEN_VAC] // 2
        if need < VENT_FLOOR_PA:
            need = VENT_FLOOR_PA
        if s[_OPEN_MIN] > need:
            frozen = s[_SAME_RUN] >= FROZEN_READINGS
            self.trip(FAULT_SENSOR_STUCK if frozen else FAULT_RELEASE_FAIL, s[_OPEN_MIN])

    # -- once per completed cycle --------------------------------------------
    def _streak(self, mode):
        if self.bad[mode] and (self.s[_T_MS] - self.bad_since[mode]) & T_MASK >= self.cfg.no_vacuum_ms:
            self.trip(FAULT_NO_VACUUM, self.s[VAC_SLOT])

    def cycle_end(self, mode, target_pa, peak_pa, period_ms):
        """No-vacuum and weak-pump tracking for a finished cycle of `mode`
        (stimulation or expression). Returns True while the last
        WEAK_CYCLES cycles all fell short of target by WEAK_MARGIN_PA."""
        t = self.s[_T_MS]
        if peak_pa * 2 < target_pa:
            if not self.bad[mode]:
                self.bad[mode] = True
                # The streak began when this mode last built vacuum: at the
                # end of its last good cycle (in mixed mode cycles of the
                # other mode come between), unless that is more than
                # no_vacuum_ms ago (the mode was not running); else with
                # this cycle.
                since = (t - period_ms) & T_MASK
                if self.good[mode] and (t - self.good_end[mode]) & T_MASK <= self.cfg.no_vacuum_ms:
                    since = self.good_end[mode]
                self.bad_since[mode] = since
        else:
            self.bad[mode] = False
            self.good[mode] = True
            self.good_end[mode] = t
        bad = self.bad
        if bad[0] or bad[1]:                       # a streak runs: both modes (in mixed mode one may idle)
            self._streak(0)
            self._streak(1)
        if peak_pa < target_pa - WEAK_MARGIN_PA:
            if self.weak_cycles < WEAK_CYCLES:
                self.weak_cycles += 1
        else:
            self.weak_cycles = 0
        return self.weak_cycles >= WEAK_CYCLES
