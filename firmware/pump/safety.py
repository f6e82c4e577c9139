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
duty the motor is off (Session._pump, Control.capped). The setpoint plays no
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
from micropython import const

from pump import limits
from pump.codes import (FAULT_NONE, FAULT_NO_VACUUM, FAULT_OVER_VACUUM, FAULT_RELEASE_FAIL, FAULT_SENSOR_IO,
                        FAULT_SENSOR_RANGE, FAULT_SENSOR_STALE, FAULT_SENSOR_STUCK)

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
        self.fault = FAULT_NONE
        self.vacuum_pa = 0           # last valid reading
        self.valid = False           # at least one valid reading seen
        self.fresh = False           # a new valid reading this tick
        self.since_reading_ms = 0
        self.trip_reading = None     # the value that caused the last trip
        # The valve is open at boot: the first readings must show ambient.
        self.valve_was_open = True
        self.t_ms = 0                 # the monitor's clock (ms, wraps at T_MASK)
        self.open_at = 0              # t_ms when the valve last opened
        self.open_vac_pa = 0
        self.open_min_pa = 0
        self.open_seen = False       # a fresh reading since the valve opened
        self.same_run = 0            # consecutive identical readings
        self.release_checked = False
        self.stuck_ref = 0
        self.stuck_toggles = 0
        self.stuck_motor = False
        self.bad = [False, False]     # per cycle mode: a no-vacuum streak is running
        self.bad_since = [0, 0]       # t_ms when that streak began
        self.good = [False, False]    # per cycle mode: a good cycle this session ...
        self.good_end = [0, 0]        # ... and t_ms at the end of the last one
        self.weak_cycles = 0
        self.rise_ref = 0             # the reading at the last proof of response
        self.pred_pa = 0              # the vacuum the push since then could have built
        self.seg_ratio = 0            # model/real rise x 16 of the last proved segment
        self.proof_k16 = PROOF_K16_MAX
        self.last_inc = 0

    # -- latching -----------------------------------------------------------
    def trip(self, code, reading=None):
        if self.fault == FAULT_NONE or (code == FAULT_RELEASE_FAIL and self.fault != code):
            self.fault = code
            self.trip_reading = reading
        return self.fault

    def can_clear(self):
        """A stop press may clear a trip only with a fresh, valid reading near
        ambient: the sensor works again and the breast is not under vacuum."""
        return (self.valid and self.since_reading_ms <= self.cfg.stale_ms
                and -AMBIENT_BAND_PA <= self.vacuum_pa <= AMBIENT_BAND_PA)

    def clear(self):
        if not self.can_clear():
            return False
        self.fault = FAULT_NONE
        self.trip_reading = None
        self.new_session()
        return True

    def new_session(self):
        self.bad[0] = self.bad[1] = False
        self.good[0] = self.good[1] = False
        self.weak_cycles = 0
        self.stuck_toggles = 0
        self.stuck_motor = False
        self.rise_ref = self.pred_pa = self.vacuum_pa
        self.seg_ratio = 0
        self.proof_k16 = PROOF_K16_MAX

    # -- every tick, before anything is decided -----------------------------
    def observe(self, dt_ms, reading, sensor_fault):
        """Check the sensor side. Returns the latched fault (0 = none).
        `reading` is Pa (int) or None for no new reading this tick;
        `sensor_fault` is 0 or the FAULT_SENSOR_* code the driver reported."""
        cfg = self.cfg
        self.fresh = False
        if dt_ms > 0:
            self.t_ms = (self.t_ms + dt_ms) & T_MASK
            if self.since_reading_ms < TIMER_CAP_MS:
                self.since_reading_ms += dt_ms
        if sensor_fault:
            if sensor_fault != FAULT_SENSOR_IO and sensor_fault != FAULT_SENSOR_STALE:
                sensor_fault = FAULT_SENSOR_RANGE
            return self.trip(sensor_fault, reading)
        if reading is not None:
            if type(reading) is not int:
                return self.trip(FAULT_SENSOR_RANGE, reading)
            if reading > cfg.limit_pa:
                return self.trip(FAULT_OVER_VACUUM, reading)
            if reading < cfg.sensor_min_pa or reading > cfg.sensor_max_pa:
                return self.trip(FAULT_SENSOR_RANGE, reading)
            gap = self.since_reading_ms
            self.since_reading_ms = 0
            if reading == self.vacuum_pa:
                if self.same_run < FROZEN_READINGS:
                    self.same_run += 1
            else:
                self.same_run = 0
            self.vacuum_pa = reading
            self.valid = True
            self.fresh = True
            if gap > cfg.stale_ms:
                return self.trip(FAULT_SENSOR_STALE, reading)
        elif self.since_reading_ms > cfg.stale_ms:
            return self.trip(FAULT_SENSOR_STALE)
        return self.fault

    # -- the blind-push guard, asked by the session during suction ----------
    def suction_start(self):
        self.rise_ref = self.pred_pa = self.vacuum_pa
        self.seg_ratio = 0                   # a segment never spans a release
        self.last_inc = 0

    def guard_duty(self, dt_ms, duty):
        """The duty the motor may have this tick (<= duty): the push since
        the reading last proved it follows must not have built more than
        limit - GUARD_MARGIN_PA on the fastest plant (see the module doc)."""
        v = self.vacuum_pa
        ref = self.rise_ref
        d = v - ref
        push = self.pred_pa - ref            # the model's rise since the last proof
        # A proof: a rise of BLIND_RISE_PA, plus 1/K of the model's rise
        # since the last one (noise on a reading that stopped just short of
        # a proof cannot complete it once the push has gone on).
        if d >= BLIND_RISE_PA + (push << 4) // self.proof_k16:
            # The previous segment is confirmed: the reading went on rising
            # past it, so it was following all through it. Its model/real
            # ratio says how fast this plant really is; K follows the fastest.
            k16 = self.seg_ratio * PROOF_K_PER_RATIO
            if 0 < k16 < self.proof_k16:
                self.proof_k16 = k16 if k16 > PROOF_K16_MIN else PROOF_K16_MIN
            self.seg_ratio = (push << 4) // d
            self.rise_ref = v                # a response: the vacuum is what it reads ...
            self.pred_pa = v + self.last_inc  # ... up to the last tick's push it may not show yet
        elif v > self.pred_pa:
            self.pred_pa = v                 # never below what it reads
        pred = self.pred_pa
        room = self.cfg.limit_pa - GUARD_MARGIN_PA - pred
        if room <= 0:
            self.last_inc = 0
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
        self.pred_pa = pred + inc
        self.last_inc = inc
        return duty

    # -- every tick, after the outputs are decided ---------------------------
    def supervise(self, dt_ms, duty, valve_open, pumping):
        """Stuck sensor and release checks against the final outputs. The
        common tick (no valve change, no new reading) touches little state:
        this runs every tick on the board."""
        if valve_open != self.valve_was_open:
            self.valve_was_open = valve_open
            if valve_open:                          # opened: a release window starts
                self.open_at = self.t_ms
                self.open_vac_pa = self.vacuum_pa
                self.open_seen = False
                self.release_checked = False
            elif not self.release_checked:
                self._check_release()               # release phase shorter than the check time
            if pumping:
                self.stuck_toggles += 1
        if valve_open and not self.release_checked:
            if self.fresh:
                v = self.vacuum_pa
                if v < self.open_min_pa or not self.open_seen:
                    self.open_min_pa = v
                    self.open_seen = True
            if (self.t_ms - self.open_at) & T_MASK >= self.cfg.release_check_ms:
                self._check_release()
        if pumping:
            if duty > 0:
                self.stuck_motor = True
            if self.fresh:
                d = self.vacuum_pa - self.stuck_ref
                band = self.cfg.stuck_band_pa
                if d > band or d < -band:
                    self.stuck_ref = self.vacuum_pa
                    self.stuck_toggles = 0
                    self.stuck_motor = False
            if self.stuck_toggles >= STUCK_TOGGLES and self.stuck_motor:
                self.trip(FAULT_SENSOR_STUCK, self.vacuum_pa)
        elif self.stuck_toggles or self.stuck_motor or self.fresh:
            self.stuck_ref = self.vacuum_pa
            self.stuck_toggles = 0
            self.stuck_motor = False
        return self.fault

    def _check_release(self):
        if not self.open_seen:
            return                  # no reading since opening: sensor_stale's job
        self.release_checked = True
        need = self.open_vac_pa // 2
        if need < VENT_FLOOR_PA:
            need = VENT_FLOOR_PA
        if self.open_min_pa > need:
            frozen = self.same_run >= FROZEN_READINGS
            self.trip(FAULT_SENSOR_STUCK if frozen else FAULT_RELEASE_FAIL, self.open_min_pa)

    # -- once per completed cycle --------------------------------------------
    def _streak(self, mode):
        if self.bad[mode] and (self.t_ms - self.bad_since[mode]) & T_MASK >= self.cfg.no_vacuum_ms:
            self.trip(FAULT_NO_VACUUM, self.vacuum_pa)

    def cycle_end(self, mode, target_pa, peak_pa, period_ms):
        """No-vacuum and weak-pump tracking for a finished cycle of `mode`
        (stimulation or expression). Returns True while the last
        WEAK_CYCLES cycles all fell short of target by WEAK_MARGIN_PA."""
        t = self.t_ms
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
        self._streak(0)                            # both modes: in mixed mode one may idle
        self._streak(1)
        if peak_pa < target_pa - WEAK_MARGIN_PA:
            if self.weak_cycles < WEAK_CYCLES:
                self.weak_cycles += 1
        else:
            self.weak_cycles = 0
        return self.weak_cycles >= WEAK_CYCLES
