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
                peaking below half their target: from the start of the first
                such cycle, no_vacuum_ms without one good cycle of that mode
                (in mixed mode the easy stimulation cycles cannot hide
                failing expression cycles), checked at each cycle's end:
                no_vacuum_ms + one cycle.

release_fail replaces an earlier latched trip (the valve does not vent: the
person must break the seal by hand, the most urgent thing to show); every
other trip keeps the first code.

Blind-push guard (not a trip): a motor pushing while the reading does not
rise is either a lost seal or a sensor that no longer follows the real
vacuum (stuck, saturated, its tube off). In the second case the real vacuum
climbs unseen. The guard counts the push since the reading last rose by
BLIND_RISE_PA, in full-duty milliseconds, and holds the motor off for the
rest of the suction phase once that push could have built the remaining
headroom (limit - GUARD_MARGIN_PA - reading) on a plant rising at
MAX_RISE_PA_PER_MS at full duty, twice the default plant's fastest rise.
For any plant up to that rate, a sensor that stops following can therefore
not lead the motor above the limit less the margin; sensor_stuck or
release_fail then trips within two cycles. Below the rate, the cost of a
false alarm is one weak cycle.
"""
from micropython import const

from pump import limits
from pump.codes import (FAULT_NONE, FAULT_NO_VACUUM, FAULT_OVER_VACUUM, FAULT_RELEASE_FAIL, FAULT_SENSOR_IO,
                        FAULT_SENSOR_RANGE, FAULT_SENSOR_STALE, FAULT_SENSOR_STUCK)

STUCK_TOGGLES = const(4)          # valve changes = two full cycles
VENT_FLOOR_PA = const(2666)       # 20 mmHg: "vented" whatever the start
AMBIENT_BAND_PA = const(1333)     # 10 mmHg: near ambient, a fault may clear
MAX_RISE_PA_PER_MS = const(200)   # 1500 mmHg/s at full duty
BLIND_RISE_PA = const(400)        # 3 mmHg: the rise that proves a response
BLIND_MARGIN_PA = const(1333)     # only while 10 mmHg or more below setpoint
GUARD_MARGIN_PA = const(1333)     # keep blind vacuum 10 mmHg under the limit
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
        self.bad_since = [0, 0]       # t_ms when that streak's first cycle began
        self.weak_cycles = 0
        self.push = 0
        self.rise_ref = 0
        self.blocked = False

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
        self.weak_cycles = 0
        self.stuck_toggles = 0
        self.stuck_motor = False
        self.push = 0
        self.blocked = False

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
        self.push = 0
        self.rise_ref = self.vacuum_pa
        self.blocked = False

    def motor_allowed(self, dt_ms, duty, setpoint_pa):
        """False once the push since the reading last rose could have built
        the headroom to the limit; stays False until the next suction."""
        if self.blocked:
            return False
        v = self.vacuum_pa
        if v < self.rise_ref:
            self.rise_ref = v
        if v - self.rise_ref >= BLIND_RISE_PA or v >= setpoint_pa - BLIND_MARGIN_PA:
            self.rise_ref = v
            self.push = 0
            return True
        # push: full-duty ms x 1024 (65535 * dt >> 6 = 1024 * dt at full duty)
        self.push += duty * dt_ms >> 6
        headroom = self.cfg.limit_pa - GUARD_MARGIN_PA - v
        if headroom <= 0 or self.push * MAX_RISE_PA_PER_MS > headroom << 10:
            self.blocked = True
            return False
        return True

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
        if peak_pa * 2 < target_pa:
            if not self.bad[mode]:
                self.bad[mode] = True
                self.bad_since[mode] = (self.t_ms - period_ms) & T_MASK   # the streak began with this cycle
        else:
            self.bad[mode] = False
        self._streak(0)                            # both modes: in mixed mode one may idle
        self._streak(1)
        if peak_pa < target_pa - WEAK_MARGIN_PA:
            if self.weak_cycles < WEAK_CYCLES:
                self.weak_cycles += 1
        else:
            self.weak_cycles = 0
        return self.weak_cycles >= WEAK_CYCLES
