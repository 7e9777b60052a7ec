"""The JET configuration: versioned, validated, changed by supervisors, previewed with what-if."""
import copy
import json

from chalicelib.config import DEFAULT_JET
from chalicelib.services import jetconfig, scoring
from chalicelib.storage.models import Setting, Ticket

from .conftest import bearer, sms

JSON = {"Content-Type": "application/json"}


def put(stack, http, config, agent="sam"):
    return http.put("/admin/jet-config", headers={**bearer(stack.settings, agent), **JSON}, body=json.dumps(config))


def test_the_packaged_defaults_are_in_force_until_a_supervisor_saves(stack, http):
    answer = http.get("/admin/jet-config", headers=bearer(stack.settings, "sam")).json_body
    assert answer["version"] == DEFAULT_JET["version"] and answer["config"]["weights"] == DEFAULT_JET["weights"]
    assert http.get("/admin/jet-config", headers=bearer(stack.settings, "alice")).status_code == 403


def test_a_saved_version_is_audited_and_scores_new_tickets(stack, http):
    config = copy.deepcopy(DEFAULT_JET)
    config["weights"] = {"journey": 0.2, "experience": 0.6, "ticket": 0.2}
    saved = put(stack, http, config).json_body
    assert saved["version"] == 2 and saved["updated_by"] == "sam"
    assert Setting.get("jet#v2").value["weights"]["experience"] == 0.6
    sms(stack, http, "SM" + "1" * 32, "I am furious, my bag is lost!!!")
    stack.pump.drain()
    ticket = next(iter(Ticket.scan()))
    assert ticket.jet["weights"]["experience"] == 0.6 and scoring.history(ticket.id)[-1]["config_version"] == 2


def test_a_stale_version_is_refused(stack, http):
    config = copy.deepcopy(DEFAULT_JET)
    assert put(stack, http, config).status_code == 200
    assert put(stack, http, config).status_code == 409  # still says version 1


def test_invalid_configurations_are_refused_with_every_reason(stack, http):
    config = copy.deepcopy(DEFAULT_JET)
    config["weights"] = {"journey": 0.9, "experience": 0.9, "ticket": 0.9}
    config["routes"] = [{"when": {"intent": ["delay"]}, "queue": "disruption"}]
    answer = put(stack, http, config)
    assert answer.status_code == 422
    paths = {d["path"] for d in answer.json_body["error"]["details"]}
    assert {"/weights", "/routes"} <= paths
    config = copy.deepcopy(DEFAULT_JET)
    config["bands"] = [["P1", "high"]]
    assert put(stack, http, config).status_code == 422
    assert jetconfig.read()["version"] == 1


def test_a_configuration_that_routes_to_a_queue_that_does_not_exist_is_refused(stack, http):
    config = copy.deepcopy(DEFAULT_JET)
    config["routes"][-1]["queue"] = "genral"                       # a typo: nobody could claim them there
    config["routes"][0].setdefault("escalate", []).append({"after_minutes": 5, "queue": "nowhere"})
    answer = put(stack, http, config)
    assert answer.status_code == 422 and jetconfig.read()["version"] == 1
    assert {(d["path"], d["message"]) for d in answer.json_body["error"]["details"]} == {
        (f"/routes/{len(config['routes']) - 1}/queue", "no queue 'genral'"),
        (f"/routes/0/escalate/{len(config['routes'][0]['escalate']) - 1}/queue", "no queue 'nowhere'")}


def test_an_intent_phrase_that_is_no_valid_pattern_is_refused_before_it_can_break_scoring(stack, http):
    config = copy.deepcopy(DEFAULT_JET)
    config["intents"][0][1].append("missed (")
    answer = put(stack, http, config)
    assert answer.status_code == 422 and jetconfig.read()["version"] == 1
    [detail] = answer.json_body["error"]["details"]
    assert detail["path"] == f"/intents/0/1/{len(config['intents'][0][1]) - 1}"
    assert "not a valid pattern" in detail["message"]


def test_bands_are_the_tiers_of_the_contract_p1_to_p4_each_once(stack, http):
    for bands in ([["P1", 60], ["P2", 40], ["P3", 20], ["P4", 10], ["P5", 0]],
                  [["P1", 60], ["P1", 40], ["P3", 0]]):
        config = copy.deepcopy(DEFAULT_JET)
        config["bands"] = bands
        assert put(stack, http, config).status_code == 422
    assert jetconfig.read()["version"] == 1


def test_what_if_shows_how_the_queue_order_would_change(stack, http):
    sms(stack, http, "SM" + "2" * 32, "I am furious, my bag is lost!!! Terrible", sender="+14155550001")
    sms(stack, http, "SM" + "3" * 32, "Hello, where is my bag please?", sender="+14155550002")
    stack.pump.drain()
    proposed = copy.deepcopy(DEFAULT_JET)
    proposed["weights"] = {"journey": 0.0, "experience": 0.0, "ticket": 1.0}
    report = http.post("/admin/jet-config/what-if", headers={**bearer(stack.settings, "sam"), **JSON},
                       body=json.dumps(proposed)).json_body
    [general] = [q for q in report["queues"] if q["queue"] == "general"]
    assert general["sampled"] == 2 and all(t["score_proposed"] == 0 for t in general["tickets"])
    assert jetconfig.read()["version"] == 1  # nothing switched
