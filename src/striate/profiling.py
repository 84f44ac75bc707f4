"""The slot through which a profiler (``striate.bench.profile``) watches the graph.

When set, the engine calls ``profiler.on_record(ctx)`` as each op is recorded and
``profiler.on_backward(ctx, seconds)`` after each op's backward; it is None except while
profiling, and checked once per op.
"""

from typing import Any

profiler: Any = None
