"""The pump's state machine: one object the board ticks and presses.

Data flows one way each tick: reading -> safety monitor -> program and
state -> cycle (setpoint) -> control (duty) -> blind-push guard -> safety
supervision -> outputs. `tick()` fills and returns one reused Outputs object
and allocates nothing in steady state.

States: idle, running, paused, resting (a program's rest step), fault, done.
Only a start press begins pumping: never boot, a cleared fault, a resume
after a pause timeout, or the end of a program. A rest step inside a
started program does resume pumping by itself (that is what the power
program is); pausing and stopping are always one press away.

Mode, program-step and level changes take effect at the next cycle boundary
(at most one cycle, 0.6-1 s with the default profiles): a suction or release
phase is never cut short (a shortened release would not vent) and every
cycle has one target, so the peak correction learns from whole cycles.
"""
from micropython import const

from pump.codes import (EV_LETDOWN, EV_LEVEL_DOWN, EV_LEVEL_UP, EV_PAUSE, EV_PROGRAM, EV_START, EV_STOP,
                        END_AUTO_OFF, END_FAULT, END_NONE, END_PAUSE_TIMEOUT, END_STOP, FAULT_NONE,
                        FAULT_SESSION_LIMIT, MODE_EXPRESSION, MODE_MIXED, MODE_NONE, MODE_STIMULATION,
                        STATE_DONE, STATE_FAULT, STATE_IDLE, STATE_PAUSED, STATE_RESTING, STATE_RUNNING)
from pump.control import Control
from pump.cycle import Cycle
from pump.limits import TRIP_HEADROOM_MMHG, mmhg_to_pa
from pump.model import START_DEFAULT, START_LAST
from pump.safety import Monitor

# Motor defaults when the board file does not say: a small diaphragm pump
# stalls below about 20 % duty; 0 -> full in ~60 ms is inaudible as a start.
DEFAULT_MIN_DUTY_U16 = 13107
DEFAULT_SLEW_U16_PER_MS = 1100


# The codes and slot indices Session.tick reads, as this module's own
# consts: MicroPython inlines a const only in the module that defines it,
# an imported one is a dictionary look-up at every use (a few us each on an
# RP2040, about ten a pumping tick). test_session.py holds them equal to
# pump.codes', pump.safety's and pump.control's.
_RUNNING = const(1)         # STATE_RUNNING
_PAUSED = const(2)          # STATE_PAUSED
_RESTING = const(3)         # STATE_RESTING
_FAULT = const(4)           # STATE_FAULT
_TRIP = const(6)            # pump.safety FAULT_SLOT
_VAC = const(7)             # pump.safety VAC_SLOT
_FRESH = const(8)           # pump.safety FRESH_SLOT
_DUTY = const(3)            # pump.control DUTY_SLOT
_PEAK = const(17)           # pump.control PEAK_SLOT
_STIMULATION = const(0)     # MODE_STIMULATION (a cycle boundary's modes)
_EXPRESSION = const(1)      # MODE_EXPRESSION
_MIXED = const(2)           # MODE_MIXED


class Outputs:
    """What one tick decided. One instance, refilled every tick."""

    def __init__(self):
        self.duty_u16 = 0
        self.valve_open = True
        self.state = STATE_IDLE
        self.mode = MODE_NONE           # selected: stimulation / expression / mixed
        self.cycle_mode = MODE_NONE     # the mode of the running cycle
        self.setpoint_pa = 0            # the shaped target (0 in release)
        self.target_pa = 0              # the current level's target
        self.vacuum_pa = 0              # last valid reading
        self.fault = FAULT_NONE         # latched trip, or session_limit when done
        self.notice = FAULT_NONE        # config_invalid / watchdog_reset
        self.weak = False               # target not reached for several cycles
        self.level = 0
        self.program = 0
        self.step = 0
        # The session clock itself (the ticks' time while running or
        # resting since the start press); the program's length is refreshed
        # with the event-driven fields, and remaining_ms(out) is the time left.
        self.elapsed_ms = 0
        self.total_ms = 0
        # Counts the refreshes of the event-driven fields (state, mode,
        # cycle_mode, target_pa, weak, level, program, step) and the changes
        # of fault: a reader that saw this number has seen them all (the
        # indicator's fast path).
        self.seq = 0


def remaining_ms(out):
    """The program's time left that `out` shows (for the display and the
    phone). Not a property of Outputs: on MicroPython a class with a
    property makes every attribute store on its instances look the class
    up first, and the tick writes a dozen of them."""
    left = out.total_ms - out.elapsed_ms
    return left if left > 0 else 0


class Session:
    def __init__(self, profiles, safety_cfg, min_duty_u16=DEFAULT_MIN_DUTY_U16,
                 slew_u16_per_ms=DEFAULT_SLEW_U16_PER_MS, notice=FAULT_NONE):
        self.p = profiles
        self.monitor = Monitor(safety_cfg)
        self.cycle = Cycle()
        ceiling = safety_cfg.limit_pa - mmhg_to_pa(TRIP_HEADROOM_MMHG)
        self.control = Control(min_duty_u16, slew_u16_per_ms, ceiling)
        # The tick calls these through bound methods taken once: on an RP2040
        # a method looked up on its object at each call costs 3-6 us more.
        # The monitor and the controller are never replaced.
        self._observe = self.monitor.observe
        self._guard = self.monitor.guard_duty
        self._supervise = self.monitor.supervise
        self._update = self.control.update
        self.out = Outputs()
        self.out.notice = notice
        self.state = STATE_IDLE
        self.program = profiles.program_index("standard")
        self.levels = [0, 0, 0]
        self.last_levels = 0            # the last session's levels, packed (pack_levels); 0: none yet
        self._default_levels()
        self.mode = MODE_NONE
        self.cycle_mode = MODE_NONE
        self.level_mode = MODE_NONE     # whose level sets this cycle's target
        self.cycle_target_pa = 0        # fixed for the cycle at its start
        self.mixed_i = 0
        self.step = 0
        self.step_end_ms = 0            # the session time the current step ends at
        self.event_ms = 0               # the next program event: min(step_end_ms, max_session_ms)
        self.pause_ms = 0
        self.paused_from = STATE_RUNNING
        self.in_suction = False
        self.weak = False
        self.end_reason = END_NONE
        self.ended_fault = FAULT_NONE   # session_limit while done after auto-off
        self.total_ms = self._program().total_ms
        self.max_session_ms = profiles.max_session_ms
        self.pause_timeout_ms = profiles.pause_timeout_ms
        self.dirty = True               # the event-driven outputs need refreshing

    # -- events ----------------------------------------------------------------
    def press(self, ev):
        """A button event (EV_*). Returns True when it changed something."""
        self.dirty = True
        st = self.state
        if ev == EV_START:
            if st == STATE_IDLE or st == STATE_DONE:
                self._start()
                return True
        elif ev == EV_STOP:
            if st == STATE_RUNNING or st == STATE_PAUSED or st == STATE_RESTING:
                self._end(END_STOP, STATE_IDLE)
                return True
            if st == STATE_DONE:
                self.state = STATE_IDLE
                self.ended_fault = FAULT_NONE
                return True
            if st == STATE_FAULT and self.monitor.clear():
                self.state = STATE_IDLE
                return True
        elif ev == EV_PAUSE:
            if st == STATE_RUNNING or st == STATE_RESTING:
                self.paused_from = st
                self.pause_ms = 0
                self.state = STATE_PAUSED
                self.control.off()
                return True
            if st == STATE_PAUSED:
                self.state = self.paused_from
                if self.state == STATE_RUNNING:
                    self._begin_cycles()
                return True
        elif ev == EV_LETDOWN:
            if st == STATE_RUNNING or st == STATE_PAUSED:
                self.mode = MODE_STIMULATION if self.mode == MODE_EXPRESSION else MODE_EXPRESSION
                return True
        elif ev == EV_LEVEL_UP or ev == EV_LEVEL_DOWN:
            m = self.mode
            if m != MODE_NONE and (st == STATE_RUNNING or st == STATE_PAUSED):
                lv = self.levels[m] + (1 if ev == EV_LEVEL_UP else -1)
                if 1 <= lv <= self.p.modes[m].levels:
                    self.levels[m] = lv
                    return True
        elif ev == EV_PROGRAM:
            if st == STATE_IDLE or st == STATE_DONE:
                self.select_program((self.program + 1) % len(self.p.programs))
                return True
        return False

    def select_program(self, index):
        """Choose the program the next start runs (idle or done only)."""
        if (self.state == STATE_IDLE or self.state == STATE_DONE) and 0 <= index < len(self.p.programs):
            self.program = index
            self.total_ms = self._program().total_ms
            self.dirty = True
            return True
        return False

    # -- the tick --------------------------------------------------------------
    def tick(self, dt_ms, reading_pa, sensor_fault=FAULT_NONE):
        """One control tick. dt_ms: time since the last tick (int ms);
        reading_pa: vacuum in Pa (int) or None when there is no new reading;
        sensor_fault: 0 or the FAULT_SENSOR_* code the driver reported.

        The common tick's work is inlined here (a call costs as much as
        five attribute look-ups on an RP2040); what happens at events,
        program steps and cycle boundaries lives in its own methods."""
        if type(dt_ms) is not int or dt_ms < 0:
            dt_ms = 0
        mon = self.monitor
        if self._observe(dt_ms, reading_pa, sensor_fault) and self.state != _FAULT:
            self._end(END_FAULT, _FAULT)
        mslots = mon.s
        out = self.out
        duty = 0
        valve_open = True
        sp = 0
        st = self.state
        if st == _RUNNING or st == _RESTING:
            # The session clock (on the outputs, which show it) and one
            # deadline for both of its events: the step's end, the session limit.
            ms = out.elapsed_ms + dt_ms
            out.elapsed_ms = ms
            if ms >= self.event_ms:
                self._program_event()
                st = self.state
        if st == _RUNNING:
            # The pumping step: the cycle's phase, the controller, the guard.
            cyc = self.cycle
            phase = cyc.phase_ms + dt_ms                # Cycle.advance(), inlined
            period = cyc.period_ms
            if phase < period:
                cyc.phase_ms = phase
            else:
                # A boundary: a long dt (a loop stall) may skip whole cycles,
                # the phase stays in range. Then the next cycle is loaded.
                cyc.phase_ms = phase % period
                cyc.count += 1
                self._cycle_boundary(mon)
                phase = cyc.phase_ms
            v = mslots[_VAC]
            fresh = mslots[_FRESH]
            ctl = self.control                          # it also keeps the cycle's peak (PEAK_SLOT)
            if phase >= cyc.suction_ms:                 # release: valve open, motor off
                self.in_suction = False
                self._update(dt_ms, -1, v, False, 0, fresh)   # the slope is tracked
            else:
                if not self.in_suction:
                    self.in_suction = True
                    mon.suction_start()
                # Cycle.setpoint_pa(target, min(dt, 50)), inlined: the ramp's
                # value at the end of this tick's interval, then the target.
                sp = self.cycle_target_pa
                ramp = cyc.ramp_ms
                holding = phase >= ramp
                if not holding:
                    ahead = phase + (dt_ms if dt_ms < 50 else 50)
                    if ahead < ramp:
                        sp = sp * ahead // ramp
                valve_open = False
                duty = self._update(dt_ms, sp, v, holding, self.cycle_mode, fresh)
                if duty:
                    allowed = self._guard(dt_ms, duty)
                    if allowed < duty:
                        ctl.capped(allowed)                 # the guard's cut: off below the stall duty
                        duty = ctl.s[_DUTY]
        elif st == _PAUSED:
            self.pause_ms += dt_ms
            if self.pause_ms >= self.pause_timeout_ms:
                self._end(END_PAUSE_TIMEOUT, STATE_DONE)
                st = self.state
        # st is the state here: nothing on the pumping path above ends a session.
        if self._supervise(dt_ms, duty, valve_open, st == _RUNNING):
            if st != _FAULT:
                self._end(END_FAULT, _FAULT)
            st = self.state
        if st != _RUNNING:
            # Rules 2 and 4: anything but running is motor off, valve vented.
            self.control.s[_DUTY] = 0   # Control.off(), inlined
            duty = 0
            valve_open = True
            sp = 0
        # The outputs of every tick (the rest follows out.seq in _refresh).
        out.duty_u16 = duty
        out.valve_open = valve_open
        out.setpoint_pa = sp
        out.vacuum_pa = mslots[_VAC]
        if st == _FAULT:
            # A trip can replace another without a state change (release_fail
            # after over_vacuum): the LED's blink code must follow it. In any
            # other state the fault shown changes only with the state or an
            # end (a trip ends the session in the tick it latches; the
            # session_limit comes and goes with _end and _start), and
            # _refresh sets it.
            fault = mslots[_TRIP] or self.ended_fault
            if fault != out.fault:
                out.seq = (out.seq + 1) & 0x3FFFFFFF
                out.fault = fault
        if self.dirty or st != out.state:
            self._refresh(out, st)
        return out

    # -- internals -------------------------------------------------------------
    def _default_levels(self):
        """The levels a session starts at (profiles start_level)."""
        modes = self.p.modes
        how = self.p.start_level
        for m in (MODE_STIMULATION, MODE_EXPRESSION, MODE_MIXED):
            level = 1
            if how == START_DEFAULT:
                level = modes[m].default_level
            elif how == START_LAST:
                last = (self.last_levels >> (4 * m)) & 15
                if 1 <= last <= modes[m].levels:        # a level this profile still has
                    level = last
            self.levels[m] = level

    def packed_levels(self):
        """The three modes' levels in one int (4 bits each), for state.json."""
        lv = self.levels
        return lv[MODE_STIMULATION] | lv[MODE_EXPRESSION] << 4 | lv[MODE_MIXED] << 8

    def _start(self):
        self._default_levels()
        self.out.elapsed_ms = 0
        self.end_reason = END_NONE
        self.ended_fault = FAULT_NONE
        self.weak = False
        self.control.reset()
        self.monitor.new_session()
        self.step = 0
        self.step_end_ms = self._program().steps[0].duration_ms
        self._next_event()
        self._enter_step()

    def _program(self):
        return self.p.programs[self.program]

    def _enter_step(self):
        self.dirty = True
        step = self._program().steps[self.step]
        if step.mode == MODE_NONE:
            self.state = STATE_RESTING
            self.mode = MODE_NONE
            self.control.off()
            return
        if step.level:
            self.levels[step.mode] = step.level
        was_running = self.state == STATE_RUNNING
        self.state = STATE_RUNNING
        self.mode = step.mode
        if not was_running:
            self._begin_cycles()

    def _begin_cycles(self):
        self.dirty = True
        self.mixed_i = 0
        self.cycle_mode = self._next_cycle_mode()
        self.cycle.start(self.p.modes[self.cycle_mode])
        self.cycle_target_pa = self._level_target_pa()
        self.control.new_target(self.cycle_mode, self.cycle_target_pa)
        self.control.s[_PEAK] = 0
        self.in_suction = False

    def _next_cycle_mode(self):
        self.level_mode = self.mode
        if self.mode != MODE_MIXED:
            return self.mode
        mixed = self.p.modes[MODE_MIXED]
        i = self.mixed_i
        self.mixed_i = (i + 1) % (mixed.stimulation_cycles + mixed.expression_cycles)
        return MODE_STIMULATION if i < mixed.stimulation_cycles else MODE_EXPRESSION

    def _next_event(self):
        """The session time tick() next calls _program_event at."""
        end = self.step_end_ms
        self.event_ms = end if end < self.max_session_ms else self.max_session_ms

    def _program_event(self):
        """The session time reached max_session_ms or the step its end
        (tick() has already counted this tick's time)."""
        ms = self.out.elapsed_ms
        if ms >= self.max_session_ms:
            self._end(END_AUTO_OFF, STATE_DONE)
            return
        steps = self._program().steps
        while self.step_end_ms <= ms:
            self.step += 1
            if self.step >= len(steps):
                self._end(END_AUTO_OFF, STATE_DONE)
                return
            self.step_end_ms += steps[self.step].duration_ms
            self._enter_step()
        self._next_event()

    def _level_target_pa(self):
        """The level's target for the cycle about to start. Mixed cycles use
        the mixed level."""
        return self.p.modes[self.cycle_mode].targets_pa[self.levels[self.level_mode] - 1]

    def _cycle_boundary(self, mon):
        """A cycle ended: judge it, learn from it, load the next one."""
        target = self.cycle_target_pa
        cm = self.cycle_mode
        weak = self.weak
        modes = self.p.modes
        mode = modes[cm]
        ctl = self.control
        peak = ctl.s[_PEAK]
        self.weak = mon.cycle_end(cm, target, peak, mode.period_ms)
        ctl.end_cycle(cm, target, peak, mode.suction_ms)
        m = self.mode
        self.level_mode = m                 # _next_cycle_mode(), inlined
        if m != _MIXED:
            nxt = m
        else:
            mixed = modes[m]
            i = self.mixed_i
            stim = mixed.stimulation_cycles
            self.mixed_i = (i + 1) % (stim + mixed.expression_cycles)
            nxt = _STIMULATION if i < stim else _EXPRESSION
        ctl.s[_PEAK] = 0
        self.in_suction = False
        nxt_target = modes[nxt].targets_pa[self.levels[m] - 1]     # _level_target_pa() (level_mode is m)
        if nxt == cm and nxt_target == target:
            # Most cycles end as the last one did: the same timing and
            # target (the controller's trim is already scaled to it), and
            # nothing shown changes unless the weak flag did. out.seq moves
            # only then, so the indicator, the record and the display keep
            # to their quiet paths.
            if self.weak != weak:
                self.dirty = True
            return
        self.cycle_mode = nxt
        md = modes[nxt]                     # Cycle.load(), inlined
        cyc = self.cycle
        cyc.period_ms = md.period_ms
        cyc.suction_ms = md.suction_ms
        cyc.ramp_ms = md.ramp_ms
        self.cycle_target_pa = nxt_target
        if ctl.trim_targets[nxt] != nxt_target:     # new_target() has a trim to rescale
            ctl.new_target(nxt, nxt_target)
        # What the outputs show of it, written here: the rest of _refresh's
        # fields cannot have changed at a boundary (running before and after;
        # a trip or a step in this tick still refreshes them all). On an
        # RP2040 the whole _refresh costs a mixed boundary ~100 us.
        out = self.out
        out.cycle_mode = nxt
        out.target_pa = nxt_target
        out.weak = self.weak
        out.seq = (out.seq + 1) & 0x3FFFFFFF

    def _end(self, reason, state):
        self.dirty = True
        self.end_reason = reason
        self.state = state
        self.mode = MODE_NONE
        self.cycle_mode = MODE_NONE
        self.level_mode = MODE_NONE
        self.ended_fault = FAULT_SESSION_LIMIT if reason == END_AUTO_OFF else FAULT_NONE
        self.control.off()

    def _refresh(self, out, st):
        """What the outputs show that changes only on events, steps and
        cycle boundaries (the session time also moves in tick() while
        running or resting): refreshed, and out.seq moved, when the state
        changed or `dirty` says so."""
        self.dirty = False
        out.total_ms = self.total_ms
        out.fault = self.monitor.s[_TRIP] or self.ended_fault
        out.seq = (out.seq + 1) & 0x3FFFFFFF
        out.state = st
        out.mode = self.mode
        out.cycle_mode = self.cycle_mode
        out.target_pa = self.cycle_target_pa if st == STATE_RUNNING else 0
        out.weak = self.weak and st == STATE_RUNNING
        out.level = self.levels[self.mode] if self.mode != MODE_NONE else 0
        out.program = self.program
        out.step = self.step
