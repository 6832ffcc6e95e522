"""Resolving model references and params: the errors a pipeline user sees for a wrong reference."""

import pytest
from estimator_kfp.components._model_ref import load_callable, parse_params, resolve_model


def test_module_reference_exposes_all_functions():
    functions = resolve_model("example_models.classifier", require_serving=True)
    assert functions.model_fn.__name__ == "model_fn"
    assert functions.input_fn.__name__ == "input_fn"
    assert functions.serving_input_receiver_fn.__name__ == "serving_input_receiver_fn"


def test_function_references():
    functions = resolve_model(
        "example_models.classifier:model_fn", input_fn_ref="example_models.classifier:input_fn"
    )
    assert functions.model_fn.__name__ == "model_fn"
    assert functions.serving_input_receiver_fn is None


@pytest.mark.parametrize(
    "reference, message",
    [
        ("", r"must name importable Python code.*received model_ref=''"),
        ("my model.py", r"is not a valid reference.*'package.module:function'"),
        ("example_models/classifier.py", r"is not a valid reference"),
        ("no_such_package_xyz.model", r"cannot import module 'no_such_package_xyz.model'.*pip install"),
        ("example_models.classifier:nope", r"has no attribute 'nope'.*Available names"),
        ("example_models.classifier:NUM_CLASSES", r"must name a callable; it names a int"),
        ("json", r"module without a callable `model_fn`"),
    ],
)
def test_bad_model_references_explain_the_fix(reference, message):
    with pytest.raises((ValueError, TypeError), match=message):
        resolve_model(reference)


def test_function_reference_without_input_fn_asks_for_one():
    with pytest.raises(ValueError, match=r"No input_fn.*input_fn_ref='package.module:input_fn'"):
        resolve_model("example_models.classifier:model_fn")


def test_export_requires_a_serving_function():
    with pytest.raises(ValueError, match=r"Exporting needs a serving input function.*serving_input_fn_ref="):
        resolve_model(
            "example_models.classifier:model_fn", input_fn_ref="example_models.classifier:input_fn",
            require_serving=True,
        )


def test_load_callable_needs_an_attribute():
    with pytest.raises(ValueError, match=r"names a module, not a function.*'example_models.classifier:input_fn'"):
        load_callable("example_models.classifier", role="input_fn_ref")


def test_params_parsing():
    assert parse_params("") == {}
    assert parse_params('{"a": [1, 2]}') == {"a": [1, 2]}
    with pytest.raises(ValueError, match=r"params_json is not valid JSON.*received params_json='\{a: 1\}'"):
        parse_params("{a: 1}")
    with pytest.raises(ValueError, match=r"must be a JSON object"):
        parse_params("[1, 2]")


@pytest.mark.parametrize(
    "reference, message",
    [
        ("sys:exit", r"resolves to 'exit', a built-in, not in the package 'sys'"),
        ("refs_testlib:os.system", r"goes through the module 'os'.*not reach into modules it imports"),
        (
            "refs_testlib:borrowed_input_fn",
            r"defined in 'example_models.classifier', not in the package 'refs_testlib'",
        ),
        ("refs_testlib:sys.exit", r"goes through the module 'sys'"),
    ],
)
def test_references_reach_only_code_of_their_own_package(reference, message):
    with pytest.raises(ValueError, match=message):
        resolve_model("example_models.classifier:model_fn", input_fn_ref=reference)


@pytest.mark.parametrize(
    "reference",
    [
        "refs_testlib:Model.input_fn",
        "refs_testlib:callable_input_fn",
        "refs_testlib:partial_input_fn",
        "refs_testlib:exiting_input_fn",
    ],
)
def test_own_functions_classes_instances_and_partials_resolve(reference):
    assert callable(resolve_model("example_models.classifier:model_fn", input_fn_ref=reference).input_fn)
