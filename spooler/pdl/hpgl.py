"""HP-GL/2 inside PCL 5: which commands put ink on the page (reference implementation).

A PCL 5 page is ejected by page-setup commands only when it is *marked*, so an HP-GL/2
block that only sets state (``IN;SP1;PW0.35;LT;`` as HP drivers send before every page)
must not mark it, while one that draws must. GhostPCL marks a page when it strokes or fills
a path, prints a label or a symbol; this machine follows the same rules, command by
command, checked against GhostPCL (``gpcl6``) by ``tests/spooler/pdl/test_hpgl.py``:

* ``PD`` lowers the pen; with coordinates it draws, and with none it draws a dot when
  plotting is absolute (``PA``), not when relative (``PR``). ``PA``/``PR`` draw when the pen
  is down and they carry a point. ``PU`` moves without drawing.
* ``AA``/``AR`` (3 numbers), ``AT``/``RT`` (4) and ``BR``/``BZ`` (6) draw when the pen is down;
  ``CI`` (a radius) always draws; ``RA``/``RR``/``EA``/``ER`` (2 numbers) and
  ``EW``/``WG`` (3) fill or edge a shape whatever the pen.
* In polygon mode (``PM0`` … ``PM2``) drawing only fills the polygon buffer; ``FP``/``EP``
  mark the page when the buffer holds a drawn segment (``PM0`` empties it).
* ``LB`` text up to the label terminator (ETX, or what ``DT`` chose) marks when it holds a
  byte that is not a control code; ``SM`` symbol mode marks at every ``PA``/``PD``/``PR``/
  ``PU``. ``PE`` (encoded polyline) marks for each coordinate pair not flagged pen-up
  (``<``), its numbers ending at a terminating byte (191–254, or 95–126 after ``7``).
* ``IN`` (and PCL ``ESC E``) lifts the pen, leaves polygon and symbol mode and restores
  absolute plotting and the label terminator; ``DF`` restores symbol mode and the terminator.

Where the pen is does not matter here (GhostPCL also asks that a mark fall on the page).
``ext/_scan.pyx`` implements the same machine in Cython.
"""
from __future__ import annotations

ETX = 0x03

# phases of the byte machine
_IDLE, _LETTER, _PARAMS, _LABEL, _PE, _SYMBOL, _TERMINATOR, _QUOTED = range(8)


def _code(a: str) -> int:
    return (ord(a[0]) << 8) | ord(a[1])


PD, PU, PA, PR = _code("PD"), _code("PU"), _code("PA"), _code("PR")
AA, AR, AT, RT, BR, BZ, CI = _code("AA"), _code("AR"), _code("AT"), _code("RT"), _code("BR"), _code("BZ"), _code("CI")
RA, RR, EA, ER, EW, WG = _code("RA"), _code("RR"), _code("EA"), _code("ER"), _code("EW"), _code("WG")
FP, EP, PM, IN, DF = _code("FP"), _code("EP"), _code("PM"), _code("IN"), _code("DF")
LB, PE, SM, DT = _code("LB"), _code("PE"), _code("SM"), _code("DT")

#: Numbers a drawing command needs before it draws.
_NEEDS = {AA: 3, AR: 3, AT: 4, RT: 4, BR: 6, BZ: 6}
_SHAPES = {RA: 2, RR: 2, EA: 2, ER: 2, EW: 3, WG: 3}


def _upper(b: int) -> int:
    return b - 0x20 if 0x61 <= b <= 0x7A else b


def _letter(b: int) -> bool:
    return 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A


class HpglState:
    """The HP-GL/2 graphics state that decides marking, fed the bytes between escapes."""

    __slots__ = ("phase", "first", "cmd", "nums", "in_num", "first_num", "pen_down", "relative",
                 "polygon", "poly_drawn", "symbol", "terminator", "label_ink", "pe_up", "pe_7bit",
                 "pe_value", "pe_count", "marked")

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        """``IN``, or a PCL printer reset."""
        self.phase = _IDLE
        self.first = 0
        self.cmd = 0
        self.nums = 0
        self.in_num = False
        self.first_num = 0
        self.pen_down = False
        self.relative = False
        self.polygon = False
        self.poly_drawn = False
        self.symbol = False
        self.terminator = ETX
        self.label_ink = False
        self.pe_up = self.pe_7bit = self.pe_value = False
        self.pe_count = 0
        self.marked = False

    def feed(self, data: bytes, pos: int, stop: int) -> bool:
        """Read ``data[pos:stop]`` (no ESC in it); True when something in it marked the page."""
        self.marked = False
        for i in range(pos, stop):
            self._byte(data[i])
        return self.marked

    def end(self) -> bool:
        """An escape ends HP-GL/2 for now: a command still reading its parameters runs."""
        self.marked = False
        if self.phase == _PARAMS:
            self._run()
        if self.phase != _IDLE:
            self.phase = _IDLE
        return self.marked

    # -- the byte machine -----------------------------------------------------------------------
    def _byte(self, b: int) -> None:
        phase = self.phase
        if phase == _PARAMS:
            if _letter(b):
                self._run()
                self.first = _upper(b)
                self.phase = _LETTER
            elif b == 0x3B:  # ;
                self._run()
                self.phase = _IDLE
            elif 0x30 <= b <= 0x39 or b == 0x2E:
                if not self.in_num:
                    self.in_num = True
                    if self.nums == 0:
                        self.first_num = 0
                if self.nums == 0 and b != 0x2E and self.first_num < 1000:
                    self.first_num = self.first_num * 10 + (b - 0x30)
            elif b == 0x22:  # a quoted string (CO, BP): letters in it are not commands
                self._number_done()
                self.phase = _QUOTED
            else:
                self._number_done()
        elif phase == _IDLE:
            if _letter(b):
                self.first = _upper(b)
                self.phase = _LETTER
        elif phase == _LETTER:
            if not _letter(b):
                self.phase = _IDLE
                return
            cmd = (self.first << 8) | _upper(b)
            self.cmd = cmd
            self.nums = 0
            self.in_num = False
            self.first_num = 0
            if cmd == LB:
                self.phase = _LABEL
                self.label_ink = False
            elif cmd == PE:
                self.phase = _PE
                self.pe_up = self.pe_7bit = self.pe_value = False
                self.pe_count = 0
            elif cmd == SM:
                self.phase = _SYMBOL
            elif cmd == DT:
                self.phase = _TERMINATOR
            else:
                self.phase = _PARAMS
        elif phase == _LABEL:
            if b == self.terminator:
                if self.label_ink and not self.polygon:
                    self.marked = True
                self.phase = _IDLE
            elif b >= 0x20:
                self.label_ink = True
        elif phase == _PE:
            self._pe_byte(b)
        elif phase == _QUOTED:
            if b == 0x22:
                self.phase = _PARAMS
        elif phase == _SYMBOL:
            if b == 0x3B or b <= 0x20:
                self.symbol = False
                self.phase = _IDLE
            else:
                self.symbol = True
                self.cmd = 0
                self.phase = _PARAMS
        else:  # _TERMINATOR
            if b == 0x3B:
                self.terminator = ETX
                self.phase = _IDLE
            else:
                self.terminator = b
                self.cmd = 0
                self.phase = _PARAMS

    def _number_done(self) -> None:
        if self.in_num:
            self.in_num = False
            self.nums += 1

    def _draw(self) -> None:
        if self.polygon:
            self.poly_drawn = True
        else:
            self.marked = True

    def _run(self) -> None:
        """Carry out the command whose parameters have been read."""
        self._number_done()
        cmd, nums = self.cmd, self.nums
        self.cmd = 0
        if cmd == PD:
            self.pen_down = True
            if nums >= 2 or (nums == 0 and not self.relative):
                self._draw()
            if self.symbol and not self.polygon:
                self.marked = True
        elif cmd in (PA, PR):
            self.relative = cmd == PR
            if nums >= 2 and self.pen_down:
                self._draw()
            if self.symbol and not self.polygon:
                self.marked = True
        elif cmd == PU:
            self.pen_down = False
            if self.symbol and not self.polygon:
                self.marked = True
        elif cmd in _NEEDS:
            if nums >= _NEEDS[cmd] and self.pen_down:
                self._draw()
        elif cmd == CI:
            if nums >= 1:
                self._draw()
        elif cmd in _SHAPES:
            if nums >= _SHAPES[cmd] and not self.polygon:
                self.marked = True
        elif cmd in (FP, EP):
            if self.poly_drawn and not self.polygon:
                self.marked = True
        elif cmd == PM:
            mode = self.first_num if nums else 0
            if mode == 0:
                self.polygon = True
                self.poly_drawn = False
            elif mode == 2:
                self.polygon = False
        elif cmd == IN:
            marked = self.marked
            self.reset()
            self.marked = marked
        elif cmd == DF:
            self.symbol = False
            self.terminator = ETX

    def _pe_byte(self, b: int) -> None:
        """One byte of ``PE`` data (flags and base-64/base-32 numbers)."""
        c = b & 0x7F
        if c == 0x3B:  # ;
            self.phase = _IDLE
        elif c == 0x3C:  # <
            self.pe_up = True
        elif c == 0x37:  # 7
            self.pe_7bit = True
        elif c in (0x3A, 0x3E):  # : pen, > fraction bits: one value follows
            self.pe_value = True
        elif c == 0x3D or c <= 0x20 or c == 0x7F:  # = absolute; white space
            pass
        elif (95 <= b <= 126) if self.pe_7bit else (191 <= b <= 254):  # a number ends
            if self.pe_value:
                self.pe_value = False
                return
            self.pe_count += 1
            if self.pe_count == 2:
                self.pe_count = 0
                if self.pe_up:
                    self.pe_up = False
                    self.pen_down = False
                else:
                    self.pen_down = True
                    self._draw()
