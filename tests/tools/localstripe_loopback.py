"""Runs localstripe on loopback only (its own CLI binds every interface) and keeps its
state in a file of our choosing (it hard-codes /tmp/localstripe.pickle), so a test
stack and `make dev` never share or clobber each other's data.

usage: localstripe_loopback.py PORT [STATE_FILE]   (no STATE_FILE: memory only)
"""
import pickle
import sys

from aiohttp import web
import localstripe.resources as resources
import localstripe.server as server

port = int(sys.argv[1])
state_file = sys.argv[2] if len(sys.argv) > 2 else None


def load(store):
    try:
        with open(state_file, "rb") as f:
            store.clear()
            store.update(pickle.load(f))
    except FileNotFoundError:
        pass


def dump(store):
    if state_file:
        with open(state_file, "wb") as f:
            pickle.dump(dict(store), f, protocol=pickle.HIGHEST_PROTOCOL)


resources.Store.dump_to_disk = dump
resources.Store.try_load_from_disk = load
if state_file:
    resources.store.try_load_from_disk()
web.run_app(server.app, host="127.0.0.1", port=port, print=None, access_log=None)
