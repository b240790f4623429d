"""Fixtures shared by the test modules."""

import pytest
import torch


def _autograd_nodes(t: torch.Tensor) -> set[str]:
    """Class names of the autograd nodes that produced t (which backward will run)."""
    names, seen, todo = set(), set(), [t.grad_fn]
    while todo:
        node = todo.pop()
        if node is not None and node not in seen:  # each node once, all of them
            seen.add(node)
            names.add(type(node).__name__)
            todo.extend(n for n, _ in node.next_functions)
    return names


@pytest.fixture
def autograd_nodes():
    """The function autograd_nodes(t): names of the nodes in t's backward graph."""
    return _autograd_nodes
