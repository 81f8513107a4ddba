"""Instance-norm statistics as outputs or inputs of an OpenVINO model.

Magenta's transfer network normalises its activations 13 times per image by
each channel's spatial mean and variance (instance normalisation). Run on tiles,
every tile would use its own statistics, and neighbouring tiles would differ by
10-20 levels of mean colour. So :mod:`tfapp.tiling` runs the network twice over:
once on the whole image, downscaled to fit in one piece, with the statistics as
extra outputs (:func:`with_statistics_outputs`), then on each tile with those
statistics as inputs (:func:`with_statistics_inputs`) in place of the tile's own.

In the graph OpenVINO reads from the flatbuffer, an instance norm is a
``ReduceMean`` over the spatial axes (the mean) feeding a ``SquaredDifference``
whose ``ReduceMean`` is the variance; both are ``[1, C, 1, 1]``.
"""
import openvino as ov
from openvino import opset13 as ops


def instance_norms(model):
    """``(mean, variance)`` node pairs of each instance norm, in the order the graph computes them."""
    pairs = []
    for node in model.get_ordered_ops():
        if node.get_type_name() != "ReduceMean":
            continue
        for consumer in _consumers(node):
            if consumer.get_type_name() != "SquaredDifference":
                continue
            variances = [user for user in _consumers(consumer) if user.get_type_name() == "ReduceMean"]
            if len(variances) == 1:
                pairs.append((node, variances[0]))
    return pairs


def _consumers(node):
    return [target.get_node() for target in node.output(0).get_target_inputs()]


def statistic_nodes(model):
    """Every instance norm's mean and variance nodes, flat: mean 0, variance 0, mean 1, ..."""
    nodes = [node for pair in instance_norms(model) for node in pair]
    if not nodes:
        raise ValueError("the network has no instance normalisation to share statistics of")
    return nodes


def with_statistics_outputs(model):
    """``model`` with each statistic of :func:`statistic_nodes` as an extra output, after its own."""
    model.add_outputs([node.output(0) for node in statistic_nodes(model)])
    return model


def with_statistics_inputs(model):
    """A model like ``model`` whose statistics are inputs ``statistic_0``, ``statistic_1``, ...

    The inputs come after the model's own, in the order of :func:`statistic_nodes`,
    each of that node's shape; the tile's own means and variances are no longer computed.
    """
    parameters = []
    for index, node in enumerate(statistic_nodes(model)):
        parameter = ops.parameter(node.get_output_partial_shape(0), ov.Type.f32, name=f"statistic_{index}")
        parameter.output(0).get_tensor().set_names({f"statistic_{index}"})
        for target in node.output(0).get_target_inputs():
            target.replace_source_output(parameter.output(0))
        parameters.append(parameter)
    return ov.Model(model.get_results(), list(model.get_parameters()) + parameters, model.get_friendly_name())
