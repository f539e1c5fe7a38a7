#!/usr/bin/env python3
"""Fake Modbus PLC for Tram's integration tests (pymodbus==3.8.6).

Run as a subprocess:

    python3 plc.py --tcp 127.0.0.1:5020 --units 1,2 --values values.json
    python3 plc.py --tcp 127.0.0.1:0 ...           # OS picks the port (see PORT line)
    python3 plc.py --tcp 127.0.0.1:0 --framer rtu  # RTU frames over TCP ("rtu+tcp")
    python3 plc.py --rtu /tmp/x/ptyA --units 1,2 --values values.json

Values file (JSON), 0-based PDU (wire) addresses, one key per unit id:

    {"1": {"holding":        {"0": [16457, 4059], "100": [1, 2, 3]},
           "input":          {"0x10": [0, 1]},
           "coil":           {"0": [1, 0, 1]},
           "discrete_input": {"5": [1]}}}

Each list is written starting at its address.  Words may be ints (0..65535) or
strings such as "0x4049"; bits are 0/1/true/false.  Only the addresses given
exist: a request touching any other address gets exception 02 (ILLEGAL DATA
ADDRESS).  PDU address N on the wire is the JSON address N (pymodbus' own
ModbusSlaveContext adds 1 to every address; this program does not use that
mapping).  Units listed with --units but absent from the file have no
registers at all.  Requests for a unit id that is not served are ignored
(no answer, as on an RS-485 bus) unless --missing-unit exception is given,
which answers exception 0x0B (gateway target failed to respond).  A malformed request
that pymodbus cannot decode (an unknown function code, FC16 whose byte count is short of
its quantity) gets no answer either; the connection stays up.  pymodbus 3.8.6 does not
check FC5's value (anything but 0x0000 is ON, and the echo says FF00) nor FC15's byte count.

stdout protocol
---------------
Before serving:   "PORT <n>" (TCP only: the port actually bound), then "READY".
Then one reply line per control command, nothing else.  Logging goes to stderr.

Control (stdin, one command per line, one reply line each: "OK[ ...]" or "ERR <why>")
----------------------------------------------------------------------------------
    ping                              -> OK
    silence on|off [UNIT ...]         stop/resume answering (all units, or those units)
    delay MS [UNIT ...]               answer after MS milliseconds (0 = no delay)
    writes normal|ignore|exception N [UNIT ...]
                                      how write requests (FC5, 6, 15, 16, 22, 23) are handled:
                                      normal = stored (the default); ignore = the usual reply
                                      (echo / address+count), but nothing is stored (quantity
                                      and address checks still apply: 03 / 02); exception N =
                                      every write answers exception N (1..255) and changes
                                      nothing.  Reads are never affected.  Without UNITs the
                                      mode is set for all units and per-unit modes are dropped.
    set UNIT TABLE ADDR V1 [V2 ...]   write values from ADDR on (creates registers)
    get UNIT TABLE ADDR [COUNT]       -> OK v1 v2 ...   (ERR if any is missing)
    unset UNIT TABLE ADDR [COUNT]     remove registers (reads of them -> exception 02)
    requests                          -> OK <n>  requests received since start/clear
    log                               -> OK unit:fc:addr:count ...  (received requests, oldest first;
                                      writes too: FC5/6/22 count 1, FC15 coils, FC16 registers,
                                      FC23 its write address and count)
    clear                             reset the request counter and log
    quit                              -> OK, then exit
TABLE is holding | input | coil | discrete_input (aliases: hr, ir, co, di,
holding_register, input_register, coils, discrete_inputs, discrete).
Numbers may be decimal or 0x-hex.  When stdin reaches EOF the program exits
(so a PLC never outlives the test that started it); --ignore-stdin-eof keeps it
running (for manual use with stdin closed, e.g. `plc.py ... </dev/null &`).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import struct
import sys
import threading

from pymodbus.datastore import (
    ModbusServerContext,
    ModbusSlaveContext,
    ModbusSparseDataBlock,
)
from pymodbus.exceptions import ModbusIOException, NoSuchSlaveException
from pymodbus.framer import FramerType
from pymodbus.pdu import ExceptionResponse
from pymodbus.pdu.bit_message import WriteMultipleCoilsResponse, WriteSingleCoilResponse
from pymodbus.pdu.register_message import (
    MaskWriteRegisterResponse,
    ReadWriteMultipleRegistersResponse,
    WriteMultipleRegistersResponse,
    WriteSingleRegisterResponse,
)
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler

if __package__:                 # imported as peers.plc
    from . import peer_control
else:                           # run as a script: python3 peers/plc.py
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import peer_control

log = logging.getLogger("plc")

# Function code -> (table, max count) for the count checks pymodbus 3.8.6 omits.
READ_LIMITS = {1: 2000, 2: 2000, 3: 125, 4: 125}
WRITE_LIMITS = {15: 1968, 16: 123}
# Requests that change the datastore (subject to the `writes` control command).
WRITE_FCS = frozenset({5, 6, 15, 16, 22, 23})


class PlcUnit(peer_control.Registers, ModbusSlaveContext):
    """One unit id's datastore.  PDU address N is block key N (no +1 shift)."""

    bit = bool            # bits are stored as pymodbus stores them
    allow_empty = True    # put/get/unset of no address at all is fine

    def __init__(self):
        super().__init__(
            di=ModbusSparseDataBlock({}), co=ModbusSparseDataBlock({}),
            ir=ModbusSparseDataBlock({}), hr=ModbusSparseDataBlock({}),
        )

    def validate(self, fc_as_hex, address, count=1):
        return count >= 1 and self.exists(self.decode(fc_as_hex), address, count)

    def getValues(self, fc_as_hex, address, count=1):
        return self.store[self.decode(fc_as_hex)].getValues(address, count)

    def setValues(self, fc_as_hex, address, values):
        self.store[self.decode(fc_as_hex)].setValues(address, values)

    # direct access by table letter (put/get/remove), used by the values file and control commands
    def block(self, table: str) -> dict:
        return self.store[table].values


class State(peer_control.Control):
    """Fault-injection state shared by every connection: peer_control's settings and commands
    (delay(unit) in seconds), and whether an unserved unit gets exception 0x0B."""

    def __init__(self, units: dict[int, PlcUnit], missing_unit_exception: bool):
        super().__init__(units, delay_value=lambda ms: ms / 1000.0)
        self.missing_unit_exception = missing_unit_exception


def pdu_span(pdu) -> tuple[int | str, int | str]:
    """(address, count) of a request for the log: the written range for writes."""
    fc = pdu.function_code
    if fc in (5, 6, 22):
        return pdu.address, 1
    if fc == 15:
        return pdu.address, len(pdu.bits)
    if fc == 23:
        return pdu.write_address, pdu.write_count
    count = getattr(pdu, "count", None)
    return getattr(pdu, "address", "-"), "-" if count is None else count


STATE: State  # set in main()


class PlcRequestHandler(ServerRequestHandler):
    """Per-connection handler.

    Differences from pymodbus 3.8.6's ServerRequestHandler:
    - every decoded frame in the receive buffer is handled (pymodbus keeps only
      `last_pdu`, so a second frame arriving before the first is answered is lost);
    - silence / delay / `writes` (ignore, exception N) fault injection;
    - reads of coils/discrete inputs are range-checked (pymodbus does not
      validate them and would answer a malformed exception 04 with function 0x80);
    - quantity checks (exception 03) for read/write-multiple requests;
    - exceptions carry the request's function code (pymodbus uses 0x00).
    """

    def callback_data(self, data: bytes, addr: tuple | None = None) -> int:
        used = 0
        while used < len(data):
            try:
                n, pdu = self.framer.processIncomingFrame(data[used:])
            except ModbusIOException:
                # Unknown function code: no answer (pymodbus would send a malformed
                # exception with function byte 0xA8); drop the buffer.
                log.warning("undecodable request %s", data[used:].hex())
                return len(data)
            except (struct.error, ValueError, IndexError):
                # Malformed PDU, e.g. FC16 whose byte count is less than 2 x its quantity: pymodbus'
                # decoder raises and asyncio would drop the connection.  No answer; drop the buffer.
                log.warning("malformed request %s", data[used:].hex())
                return len(data)
            used += n
            if not n or not pdu:
                break
            asyncio.get_running_loop().create_task(self.handle_pdu(pdu, addr))
        return used

    async def handle_pdu(self, pdu, addr) -> None:
        unit = pdu.dev_id
        fc = pdu.function_code
        address, count = pdu_span(pdu)
        STATE.log_request(unit, fc, address, count)
        if STATE.silenced(unit):
            return
        delay = STATE.delay(unit)
        if delay > 0:
            await asyncio.sleep(delay)
            if STATE.silenced(unit):
                return
        try:
            context = self.server.context[unit]
        except NoSuchSlaveException:
            if not STATE.missing_unit_exception:
                return
            response = ExceptionResponse(fc, ExceptionResponse.GATEWAY_NO_RESPONSE)
        else:
            response = await self.run(pdu, context, fc, STATE.writes(unit))
        response.transaction_id = pdu.transaction_id
        response.dev_id = unit
        if self.transport is None:
            return  # connection gone while we were delaying
        try:
            self.server_send(response, addr)
        except Exception as exc:  # pylint: disable=broad-except
            log.warning("send failed: %s", exc)

    @staticmethod
    async def run(pdu, context, fc, writes=("normal", 0)):
        try:
            mode, code = writes if fc in WRITE_FCS else ("normal", 0)
            if mode == "exception":
                return ExceptionResponse(fc, code)
            if fc in READ_LIMITS:
                if not 1 <= pdu.count <= READ_LIMITS[fc]:
                    return ExceptionResponse(fc, ExceptionResponse.ILLEGAL_VALUE)
                if not context.validate(fc, pdu.address, pdu.count):
                    return ExceptionResponse(fc, ExceptionResponse.ILLEGAL_ADDRESS)
            if fc in WRITE_LIMITS:
                n = len(pdu.bits if fc == 15 else pdu.registers)
                if not 1 <= n <= WRITE_LIMITS[fc]:
                    return ExceptionResponse(fc, ExceptionResponse.ILLEGAL_VALUE)
            if mode == "ignore":
                return ignored_write(pdu, context, fc)
            return await pdu.update_datastore(context)
        except Exception as exc:  # pylint: disable=broad-except
            log.exception("request failed: %s", exc)
            return ExceptionResponse(fc, ExceptionResponse.SLAVE_FAILURE)


def ignored_write(pdu, context, fc):
    """The normal reply to a write request, with the same checks, but nothing stored."""
    if fc == 23:
        if not (1 <= pdu.read_count <= 125 and 1 <= pdu.write_count <= 121):
            return ExceptionResponse(fc, ExceptionResponse.ILLEGAL_VALUE)
        if not (context.validate(fc, pdu.write_address, pdu.write_count)
                and context.validate(fc, pdu.read_address, pdu.read_count)):
            return ExceptionResponse(fc, ExceptionResponse.ILLEGAL_ADDRESS)
        return ReadWriteMultipleRegistersResponse(
            registers=list(context.getValues(fc, pdu.read_address, pdu.read_count)))
    address, count = pdu_span(pdu)
    if not context.validate(fc, address, count):
        return ExceptionResponse(fc, ExceptionResponse.ILLEGAL_ADDRESS)
    if fc == 5:
        return WriteSingleCoilResponse(address=address, bits=list(pdu.bits))
    if fc == 6:
        return WriteSingleRegisterResponse(address=address, registers=list(pdu.registers))
    if fc == 15:
        return WriteMultipleCoilsResponse(address=address, count=count)
    if fc == 16:
        return WriteMultipleRegistersResponse(address=address, count=count)
    return MaskWriteRegisterResponse(address=address, and_mask=pdu.and_mask, or_mask=pdu.or_mask)


class PlcTcpServer(ModbusTcpServer):
    def callback_new_connection(self):
        return PlcRequestHandler(self, self.trace_packet, self.trace_pdu, self.trace_connect)


class PlcSerialServer(ModbusSerialServer):
    def callback_new_connection(self):
        return PlcRequestHandler(self, self.trace_packet, self.trace_pdu, self.trace_connect)


# ---------------------------------------------------------------- values file

def check_unit_id(uid: int) -> None:
    if not 0 <= uid <= 255:
        raise ValueError(f"unit id out of range: {uid}")


def load_units(unit_ids: list[int] | None, values_path: str | None) -> dict[int, PlcUnit]:
    return peer_control.load_units(unit_ids, values_path, PlcUnit, check_unit_id)


# ------------------------------------------------------------------- control

def stdin_reader(loop: asyncio.AbstractEventLoop, stop: asyncio.Event, ignore_eof: bool) -> None:
    """Read control commands; run each on the event loop; reply in order."""
    for raw in sys.stdin:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower() == "quit":
            peer_control.emit("OK")
            break

        async def run(line=line):
            return STATE.command(line)

        try:
            reply = asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=10)
        except Exception as exc:  # pylint: disable=broad-except
            reply = f"ERR {exc}"
        peer_control.emit(reply)
    else:
        if ignore_eof:
            return
    loop.call_soon_threadsafe(stop.set)


# ---------------------------------------------------------------------- main

async def amain(args) -> int:
    global STATE  # pylint: disable=global-statement
    unit_ids = [peer_control.parse_int(u) for u in args.units.split(",")] if args.units else None
    units = load_units(unit_ids, args.values)
    STATE = State(units, args.missing_unit == "exception")
    context = ModbusServerContext(slaves=dict(units), single=False)

    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        framer = FramerType.RTU if args.framer == "rtu" else FramerType.SOCKET
        server = PlcTcpServer(context, framer=framer, address=(host or "127.0.0.1", int(port)))
    else:
        server = PlcSerialServer(
            context, framer=FramerType.RTU, port=args.rtu, baudrate=args.baud,
            parity=args.parity, bytesize=8, stopbits=args.stopbits,
            timeout=0.1, reconnect_delay=0.5,
        )
    if not await server.listen():
        log.error("cannot listen on %s", args.tcp or args.rtu)
        return 1
    if args.tcp:
        bound = server.transport.sockets[0].getsockname()[1]
        peer_control.emit(f"PORT {bound}")
    # The serial transport registers its reader with call_soon; let it run.
    await asyncio.sleep(0)
    await asyncio.sleep(0)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    peer_control.emit("READY")
    threading.Thread(target=stdin_reader, args=(loop, stop, args.ignore_stdin_eof), daemon=True).start()
    await stop.wait()
    await server.shutdown()
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--tcp", metavar="HOST:PORT", help="Modbus TCP listen address (port 0: any free port)")
    where.add_argument("--rtu", metavar="DEVICE", help="serial device (e.g. one end of a socat pty pair)")
    p.add_argument("--framer", choices=["socket", "rtu"], default="socket",
                   help="framing for --tcp: socket (MBAP, default) or rtu (RTU frames over TCP)")
    p.add_argument("--units", help="comma-separated unit ids (default: the values file's units, or 1)")
    p.add_argument("--values", metavar="FILE.json", help="initial register contents")
    p.add_argument("--missing-unit", choices=["ignore", "exception"], default="ignore",
                   help="requests for units not served: no answer (default) or exception 0x0B")
    p.add_argument("--baud", type=int, default=9600)
    p.add_argument("--parity", choices=["N", "E", "O"], default="N")
    p.add_argument("--stopbits", type=int, choices=[1, 2], default=1)
    p.add_argument("--ignore-stdin-eof", action="store_true", help="keep running when stdin closes")
    p.add_argument("--verbose", "-v", action="store_true", help="pymodbus debug logging on stderr")
    args = p.parse_args(argv)

    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="plc[%(process)d] %(levelname)s %(name)s: %(message)s")
    # pymodbus logs every exception response at ERROR level; that is normal here.
    logging.getLogger("pymodbus").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)
    try:
        return asyncio.run(amain(args))
    except (ValueError, OSError, json.JSONDecodeError) as exc:
        print(f"plc: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
