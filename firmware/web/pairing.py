"""The pairing secret and the door it guards (docs/threat-model.md).

Nothing on the board's web app answers without the secret: a random key
made at first boot from os.urandom, kept in pair.key on the flash, shown
to the person by `make pair` as a link. The phone presents it once at
/pair?k=...; the board answers with an HttpOnly, SameSite=Strict cookie
that every later request and socket carries.

Why a lock as well as a long secret: 128 random bits cannot be guessed, but
a flood of wrong guesses costs the board CPU that the control loop needs.
So after FREE_TRIES wrong secrets in a row each answer is held back
(SLOW_MS, spent in the server's own task, never in a tick), and after
LOCK_AFTER in a row the door is shut for LOCK_MS: every request is refused,
the right secret too, until the time has passed; each further lock lasts
twice as long, up to LOCK_MAX_MS. The count is for the whole board, not
per address: an attacker on the network cannot spread guesses over many
addresses. The price (someone on the network can keep the phone locked
out) is stated in the threat model; the buttons always work.

Pure: the clock (ticks_ms, ticks_diff) and urandom are passed in.
"""
from micropython import const

SECRET_BYTES = const(16)              # 128 bits, 32 hex digits
FREE_TRIES = const(3)
SLOW_MS = const(1000)
LOCK_AFTER = const(10)
LOCK_MS = const(300000)               # five minutes
LOCK_MAX_MS = const(3600000)          # an hour

OK = const(0)
WRONG = const(1)
LOCKED = const(2)

_HEX = "0123456789abcdef"


def new_secret(urandom):
    """32 lowercase hex digits from SECRET_BYTES of urandom."""
    raw = urandom(SECRET_BYTES)
    out = []
    for b in raw:
        out.append(_HEX[b >> 4])
        out.append(_HEX[b & 15])
    return "".join(out)


def valid_secret(text):
    """True for a secret new_secret could have made (a pair.key to trust)."""
    if not isinstance(text, str) or len(text) != 2 * SECRET_BYTES:
        return False
    for c in text:
        if c not in _HEX:
            return False
    return True


def same(expected, given):
    """expected == given in a time that depends only on len(expected): every
    byte is compared, whatever the first difference. The secret's length is
    public; its content is not."""
    if isinstance(given, str):
        given = given.encode()
    n = len(expected)
    diff = len(given) ^ n
    m = len(given)
    i = 0
    while i < n:
        diff |= expected[i] ^ (given[i] if i < m else 0)
        i += 1
    return diff == 0


class Gate:
    """Checks a presented secret; counts and punishes wrong ones."""

    def __init__(self, secret, clock):
        self.secret = secret.encode() if isinstance(secret, str) else secret
        self.clock = clock
        self.wrong = 0                  # wrong secrets in a row
        self.locks = 0                  # locks so far (each doubles the next)
        self.locked_at = 0
        self.lock_ms = 0                # 0: not locked
        self.refused = 0                # requests refused, for the console and the tests

    def locked_left_ms(self):
        """How long the door stays shut (0: open)."""
        if not self.lock_ms:
            return 0
        gone = self.clock.ticks_diff(self.clock.ticks_ms(), self.locked_at)
        if gone >= self.lock_ms or gone < 0:
            self.lock_ms = 0
            return 0
        return self.lock_ms - gone

    def check(self, given):
        """(verdict, delay_ms): OK, WRONG (answer after delay_ms) or LOCKED
        (delay_ms: until the lock opens). An absent secret (None) is refused
        without counting as a guess: a page loaded without the cookie."""
        left = self.locked_left_ms()
        if left:
            self.refused += 1
            return LOCKED, left
        if given is None:
            self.refused += 1
            return WRONG, 0
        if same(self.secret, given):
            self.wrong = 0
            return OK, 0
        self.refused += 1
        self.wrong += 1
        if self.wrong >= LOCK_AFTER:
            ms = LOCK_MS
            k = self.locks
            while k > 0 and ms < LOCK_MAX_MS:
                ms *= 2
                k -= 1
            self.lock_ms = ms if ms < LOCK_MAX_MS else LOCK_MAX_MS
            self.locked_at = self.clock.ticks_ms()
            self.locks += 1
            self.wrong = 0
            return LOCKED, self.lock_ms
        return WRONG, SLOW_MS if self.wrong > FREE_TRIES else 0
