"""Check helpers that the labs' exercise cells call: one module per lab.

Each ``check_*`` function compares a learner's answer with the library's own result and raises
an ``AssertionError`` that says in plain words what is wrong (and, where it can tell, which
step was probably missed); on success it prints a one-line confirmation.

Shared by several labs: ``_model_compare`` (calling the learner's function and comparing
tensors) and ``_answers`` (number answers and their known slips).
"""
