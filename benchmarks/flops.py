"""FLOPs of a traced training step: all of its graph, and the part that runs."""


def step_flops(gan, x_spec, y_spec):
    """FLOPs of one traced Algorithm-1 iteration (all d_steps + 1 updates, forward and
    backward; `x_spec`, `y_spec`: one step's batch, whatever `gan.steps_per_call` is), by
    TensorFlow's per-op statistics (those of its graph profiler): {"traced": every op of the
    graph, "executed": only the ops whose results reach the step's outputs or a state change}.

    The two differ because a tape records more than it is asked for: D's update computes G's
    forward inside its tape, so the traced graph also holds G's backward, and G's update holds
    D's weight gradients. Nothing consumes them; the function's pruning (and XLA's dead-code
    elimination) drops them before the step runs, so MFU uses "executed"."""
    import tensorflow as tf
    from tensorflow.python.framework import ops
    # A loop's body would be counted once, not d_steps - 1 times; the specs are one step's, so
    # one iteration per call (`steps_per_call` > 1 only loops this step).
    import backends
    per_call, gan.steps_per_call = gan.steps_per_call, 1
    try:
        with backends.unrolled():
            graph = tf.function(gan.train_step).get_concrete_function((x_spec, y_spec)).graph
    finally:
        gan.steps_per_call = per_call
    keep = {t.op for t in graph.outputs} | {op for op in graph.get_operations()
                                            if op._is_stateful and op.type != "ReadVariableOp"}
    todo = list(keep)
    while todo:
        op = todo.pop()
        for parent in [t.op for t in op.inputs] + list(op.control_inputs):
            if parent not in keep:
                keep.add(parent)
                todo.append(parent)
    counts = {"traced": 0, "executed": 0}
    for op in graph.get_operations():
        try:
            flops = ops.get_stats_for_node_def(graph, op.node_def, "flops").value or 0
        except ValueError:  # shape not fully known: the profiler skips these too
            flops = 0
        counts["traced"] += flops
        counts["executed"] += flops if op in keep else 0
    return counts
