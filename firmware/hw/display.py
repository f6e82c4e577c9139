"""Optional SSD1306 OLED: mode, level, vacuum, timer, fault.

Uses the MicroPython ecosystem's own driver (`mpremote mip install
ssd1306`, micropython-lib). Its `show()` sends the whole 1 KB frame, about
25 ms at 400 kHz: longer than a control tick. So a frame is drawn at most
once per `refresh_ms` and sent one 128-byte page per tick through the
driver's `write_cmd`/`write_data` (about 3 ms). Drawing text builds a few
short strings once per refresh; nothing is allocated on the other ticks.
"""
from pump.codes import FAULT_NAMES, MODE_NAMES, STATE_FAULT, STATE_NAMES, STATE_RUNNING
from pump.limits import pa_to_mmhg_x10
from pump.session import remaining_ms

SET_COL_ADDR = 0x21
SET_PAGE_ADDR = 0x22


def _mmss(ms):
    s = ms // 1000
    return "%02d:%02d" % (s // 60, s % 60)


class Display:
    def __init__(self, oled, refresh_ms=1000, program_names=("standard", "power", "catch_up")):
        self.oled = oled
        self.program_names = program_names
        self.width = oled.width
        self.pages = oled.height // 8
        buf = memoryview(oled.buffer)
        self.views = [buf[p * self.width:(p + 1) * self.width] for p in range(self.pages)]
        self.refresh_ms = refresh_ms
        self.since_ms = refresh_ms
        self.page = -1                  # page being sent, -1 when idle

    def update(self, dt_ms, out):
        if self.page >= 0:
            self._send(self.page)
            self.page += 1
            if self.page >= self.pages:
                self.page = -1
            return
        self.since_ms += dt_ms
        if self.since_ms < self.refresh_ms:
            return
        self.since_ms = 0
        self.draw(out)
        self.page = 0

    def draw(self, out):
        o = self.oled
        o.fill(0)
        if out.state == STATE_RUNNING:
            o.text("%s L%d" % (MODE_NAMES[out.mode], out.level), 0, 0)
        else:
            o.text("%s %s" % (STATE_NAMES[out.state], self.program_names[out.program]), 0, 0)
        mmhg10 = pa_to_mmhg_x10(out.vacuum_pa)
        o.text("%d mmHg" % ((mmhg10 + 5) // 10), 0, 16)
        o.text("%s / %s" % (_mmss(out.elapsed_ms), _mmss(out.elapsed_ms + remaining_ms(out))), 0, 32)
        if out.state == STATE_FAULT or out.fault:
            o.text(FAULT_NAMES[out.fault], 0, 48)
        elif out.notice:
            o.text(FAULT_NAMES[out.notice], 0, 48)
        elif out.weak:
            o.text("target not reached", 0, 48)

    def _send(self, p):
        o = self.oled
        o.write_cmd(SET_COL_ADDR)
        o.write_cmd(0)
        o.write_cmd(self.width - 1)
        o.write_cmd(SET_PAGE_ADDR)
        o.write_cmd(p)
        o.write_cmd(p)
        o.write_data(self.views[p])
