"""The Vertex TPU machine table: what is accepted, what is refused and why, and the worker pool it yields."""

import pytest
from estimator_kfp.pipelines import tpu_machines
from estimator_kfp.pipelines.tpu_machines import TPU_MACHINES, check_replica_count, resolve, worker_pool_spec
from google.cloud import aiplatform_v1


@pytest.mark.parametrize(
    "machine_type, topology, accelerator, cores, generation",
    [
        ("cloud-tpu", None, "TPU_V2", 8, "v2"),
        ("cloud-tpu", "2x2", "TPU_V3", 8, "v3"),
        ("ct5lp-hightpu-1t", "1x1", None, 1, "v5e"),
        ("ct5lp-hightpu-4t", "2x2", None, 4, "v5e"),
        ("ct5lp-hightpu-8t", "2x4", "TPU_V5_LITEPOD", 8, "v5e"),
    ],
)
def test_every_supported_machine_resolves_to_its_row(machine_type, topology, accelerator, cores, generation):
    machine = resolve(machine_type, topology, accelerator)
    assert machine in TPU_MACHINES
    assert (machine.machine_type, machine.cores, machine.generation) == (machine_type, cores, generation)


def test_the_table_is_consistent_cores_chips_and_counts():
    for machine in TPU_MACHINES:
        per_chip = 2 if machine.generation in ("v2", "v3") else 1  # TensorCores a chip (Cloud TPU docs)
        assert machine.cores == machine.chips * per_chip
        assert machine.accelerator_count == (machine.cores if machine.machine_type == "cloud-tpu" else machine.chips)
    assert len({(m.machine_type, m.accelerator_type) for m in TPU_MACHINES}) == len(TPU_MACHINES)


def test_machine_specs_take_the_form_vertex_documents_and_parse_as_protos():
    v3 = resolve("cloud-tpu", accelerator_type="TPU_V3").machine_spec()
    v5e = resolve("ct5lp-hightpu-4t", "2x2").machine_spec()
    assert v3 == {"machine_type": "cloud-tpu", "accelerator_type": "TPU_V3", "accelerator_count": 8}
    assert v5e == {"machine_type": "ct5lp-hightpu-4t", "tpu_topology": "2x2"}
    for spec in (v3, v5e):
        proto = aiplatform_v1.MachineSpec(**spec)
        assert proto.machine_type == spec["machine_type"]
    assert aiplatform_v1.MachineSpec(**v3).accelerator_type == aiplatform_v1.AcceleratorType.TPU_V3


@pytest.mark.parametrize("machine_type", ["ct6e-standard-4t", "ct6e-standard-1t", "ct6e-standard-8t"])
def test_v6e_is_refused_citing_vertex(machine_type):
    with pytest.raises(ValueError, match=r"Starting with TPU v6e, TensorFlow isn't supported for training") as info:
        resolve(machine_type, "2x2")
    assert machine_type in str(info.value) and "ct5lp-hightpu-4t" in str(info.value)


def test_v6e_accelerator_is_refused_citing_vertex():
    with pytest.raises(ValueError, match=r"TPU_V6E.*Starting with TPU v6e"):
        resolve("cloud-tpu", accelerator_type="TPU_V6E")


@pytest.mark.parametrize("machine_type, rule", [("ct5p-hightpu-4t", "TPU v5p"), ("ct4p-hightpu-4t", "TPU v4")])
def test_v4_and_v5p_are_refused(machine_type, rule):
    with pytest.raises(ValueError, match=rf"{machine_type}.*{rule}: not among the TPU VMs Vertex lists"):
        resolve(machine_type, "2x2x1")


@pytest.mark.parametrize("machine_type", ["n1-standard-8", "ct5lp-hightpu-2t", "cloud-tpu-v3"])
def test_unknown_machine_types_are_refused_with_the_supported_list(machine_type):
    with pytest.raises(
        ValueError, match=rf"machine_type='{machine_type}' is not a Vertex TPU machine.*ct5lp-hightpu-8t"
    ):
        resolve(machine_type, "2x2")


@pytest.mark.parametrize("machine_type", ["", "  ", None, 4])
def test_empty_or_non_string_machine_type_is_refused(machine_type):
    with pytest.raises(ValueError, match="machine_type must name a Vertex TPU machine"):
        resolve(machine_type)


@pytest.mark.parametrize("topology", [None, ""])
def test_v5e_requires_a_topology(topology):
    with pytest.raises(ValueError, match=r"tpu_topology is required for machine_type='ct5lp-hightpu-4t'.*'2x2'"):
        resolve("ct5lp-hightpu-4t", topology)


def test_cloud_tpu_needs_an_accelerator_type():
    with pytest.raises(ValueError, match=r"machine_type='cloud-tpu' needs accelerator_type.*TPU_V2.*TPU_V3"):
        resolve("cloud-tpu")


@pytest.mark.parametrize("accelerator", ["TPU_V4_POD", "TPU_V5_LITEPOD", "NVIDIA_TESLA_T4"])
def test_cloud_tpu_refuses_other_accelerators(accelerator):
    with pytest.raises(ValueError, match=rf"accelerator_type='{accelerator}' does not match machine_type='cloud-tpu'"):
        resolve("cloud-tpu", accelerator_type=accelerator)


def test_v5e_refuses_a_v3_accelerator():
    with pytest.raises(ValueError, match=r"accelerator_type='TPU_V3' does not match machine_type='ct5lp-hightpu-4t'"):
        resolve("ct5lp-hightpu-4t", "2x2", "TPU_V3")


@pytest.mark.parametrize(
    "machine_type, topology, accelerator, message",
    [
        ("ct5lp-hightpu-8t", "2x2", None, r"tpu_topology='2x2' does not match machine_type='ct5lp-hightpu-8t'.*'2x4'"),
        ("ct5lp-hightpu-1t", "2x1", None, r"tpu_topology='2x1' does not match machine_type='ct5lp-hightpu-1t'.*'1x1'"),
        ("ct5lp-hightpu-4t", "1x1", None, r"tpu_topology='1x1' does not match machine_type='ct5lp-hightpu-4t'"),
        (
            "cloud-tpu",
            "4x4",
            "TPU_V3",
            r"tpu_topology='4x4' does not match machine_type='cloud-tpu' accelerator_type='TPU_V3'",
        ),
    ],
)
def test_a_topology_inconsistent_with_the_machine_is_refused(machine_type, topology, accelerator, message):
    with pytest.raises(ValueError, match=message):
        resolve(machine_type, topology, accelerator)


@pytest.mark.parametrize("topology", ["2x4", "4x4", "8x16", "16x16"])
def test_multi_host_v5e_slices_are_refused(topology):
    with pytest.raises(
        ValueError, match=rf"tpu_topology='{topology}' on machine_type='ct5lp-hightpu-4t' is a multi-host slice"
    ):
        resolve("ct5lp-hightpu-4t", topology)


@pytest.mark.parametrize("topology", ["2by2", "2x", "x2", "0x2", "2x2x2x2"])
def test_malformed_topologies_are_refused(topology):
    with pytest.raises(ValueError, match=rf"tpu_topology must be chips per dimension.*'{topology}'"):
        resolve("ct5lp-hightpu-4t", topology)


def test_non_string_topology_is_a_type_error():
    with pytest.raises(TypeError, match=r"tpu_topology must be a string or None; received tpu_topology=4"):
        resolve("ct5lp-hightpu-4t", 4)


@pytest.mark.parametrize("replicas", [0, 2, 4, True, "1"])
def test_tpu_worker_pools_have_one_replica(replicas):
    with pytest.raises(ValueError, match=rf"replica_count must be 1 for a TPU worker pool.*{replicas!r}"):
        check_replica_count(replicas)


def test_worker_pool_spec_is_a_valid_vertex_worker_pool():
    machine = resolve("ct5lp-hightpu-8t", "2x4")
    pool = worker_pool_spec(machine, {"image_uri": "example.com/tpu:1", "command": ["python"], "args": ["-V"]})
    assert pool["replica_count"] == 1 and pool["machine_spec"]["tpu_topology"] == "2x4"
    proto = aiplatform_v1.WorkerPoolSpec(**pool)
    assert proto.container_spec.image_uri == "example.com/tpu:1" and proto.replica_count == 1
    with pytest.raises(ValueError, match="replica_count must be 1"):
        worker_pool_spec(machine, {"image_uri": "x"}, replica_count=2)
    with pytest.raises(TypeError, match="machine must be a TpuMachine"):
        worker_pool_spec({"machine_type": "ct5lp-hightpu-4t"}, {"image_uri": "x"})


def test_the_guide_is_cited_in_every_refusal_of_a_generation():
    for reason in tpu_machines._REFUSED_PREFIXES.values():
        assert tpu_machines.VERTEX_TPU_GUIDE in reason


def test_v5e_runs_tensorflow_on_pjrt_and_v2_v3_turn_it_off():
    v5e = tpu_machines.runtime_env(resolve("ct5lp-hightpu-4t", "2x2"))
    assert v5e == {"NEXT_PLUGGABLE_DEVICE_USE_C_API": "true", "TF_PLUGGABLE_DEVICE_LIBRARY_PATH": "/lib/libtpu.so"}
    v3 = tpu_machines.runtime_env(resolve("cloud-tpu", accelerator_type="TPU_V3"))
    assert v3 == {"NEXT_PLUGGABLE_DEVICE_USE_C_API": "false", "TF_PLUGGABLE_DEVICE_LIBRARY_PATH": ""}
