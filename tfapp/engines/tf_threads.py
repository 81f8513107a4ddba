"""TensorFlow's CPU thread pools, sized by ``NST_ENGINE_THREADS``.

TensorFlow reads its threading configuration once, when its runtime starts (the
first operation it runs); after that the setters raise RuntimeError. Each
TensorFlow engine calls :func:`use_engine_threads` before it runs anything, so
in a worker, which loads one engine first thing, the setting takes effect. In a
process where TensorFlow already ran (a test session, a second engine) the pools
it started with stay, and a warning says so.
"""
import logging
import threading

import tensorflow as tf

from .. import conf

logger = logging.getLogger(__name__)

_lock = threading.Lock()


def use_engine_threads(threads=None):
    """Ask TensorFlow for ``threads`` (default ``conf.engine_threads()``) threads per operation and in all.

    Returns True when the pools have that size (now or already), False when
    TensorFlow had started with other sizes and keeps them.
    """
    threads = threads or conf.engine_threads()
    with _lock:
        if _current_threads() == (threads, threads):
            return True
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            logger.warning(
                "TensorFlow started before NST_ENGINE_THREADS=%d could apply; it keeps its thread pools "
                "(intra-op %d, inter-op %d; 0 means one per core).", threads, *_current_threads())
            return False
        return True


def _current_threads():
    return (tf.config.threading.get_intra_op_parallelism_threads(),
            tf.config.threading.get_inter_op_parallelism_threads())
