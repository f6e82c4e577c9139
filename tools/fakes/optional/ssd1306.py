"""Stand-in for micropython-lib's ssd1306 driver (installed on a board with
`mpremote mip install ssd1306`). Same class and methods the firmware uses;
it records the text drawn and the bytes sent. Kept out of the default fake
path so "driver not installed" stays testable."""


class SSD1306_I2C:
    def __init__(self, width, height, i2c, addr=0x3C, external_vcc=False):
        self.width = width
        self.height = height
        self.i2c = i2c
        self.addr = addr
        self.buffer = bytearray(width * height // 8)
        self.lines = {}
        self.cmds = []
        self.data_bytes = 0

    def fill(self, c):
        self.lines = {}
        for i in range(len(self.buffer)):
            self.buffer[i] = 0xFF if c else 0

    def text(self, s, x, y, c=1):
        self.lines[y] = s
        self.buffer[(y // 8) * self.width + x] = 1

    def write_cmd(self, cmd):
        self.cmds.append(cmd)

    def write_data(self, buf):
        self.data_bytes += len(buf)

    def show(self):
        self.data_bytes += len(self.buffer)
