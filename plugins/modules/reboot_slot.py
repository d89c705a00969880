#!/usr/bin/python
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file holds documentation only: the module is the action plugin of the same name, which runs
# on the controller so that targets need no Python.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: reboot_slot
short_description: Take or give back a reboot slot of a FleetLock server, as Zincati does
version_added: 0.2.0
description:
  - L(FleetLock,https://coreos.github.io/zincati/development/fleetlock/protocol/) is the protocol with which
    Zincati asks a server (L(airlock,https://github.com/coreos/airlock), L(fleetlock,https://github.com/poseidon/fleetlock))
    for a reboot slot before it reboots a Fedora CoreOS host into an update, and gives it back once the host runs
    steadily again. Each group of hosts has a number of slots, so that only that many hosts reboot at a time.
  - This module takes (O(state=acquired)) or gives back (O(state=released)) a slot for a host, with the id and
    group Zincati uses for it, so that reboots driven by Ansible and reboots of Zincati share the same slots.
  - >-
    The requests go from the B(controller) to the server (C(POST <url>/v1/pre-reboot) or C(POST
    <url>/v1/steady-state), header C(fleet-lock-protocol: true), body C({"client_params": {"id": ..., "group":
    ...}})). Only HTTP 200 is success; the server's error (C(kind), C(value)) is in the failure message.
  - The host is only read, and only for what no option gives (Zincati's configuration fragments and
    C(/etc/machine-id)), in one command through the connection; the host needs a POSIX shell, no Python.
author:
  - osimage.lifecycle developers (@osimage)
extends_documentation_fragment:
  - osimage.lifecycle.attributes
  - osimage.lifecycle.attributes.no_diff_mode
attributes:
  check_mode:
    details:
      - Check mode asks the server nothing. It returns the request it would send (RV(request)) and reports a change,
        since FleetLock cannot be asked whether the slot is held already.
options:
  state:
    description:
      - V(acquired) takes a reboot slot for the host (C(/v1/pre-reboot)); V(released) gives it back
        (C(/v1/steady-state)).
      - Both are recursive per id on the server, as Zincati relies on. Taking a slot the id holds already, and giving
        back a slot it does not hold, succeed.
    type: str
    required: true
    choices: [acquired, released]
  url:
    description:
      - The base URL of the FleetLock server, C(http://) or C(https://), without credentials, query or fragment.
      - As Zincati does, the endpoints are resolved relative to it, so a base URL with a path must end with C(/)
        (V(https://example.com/fleetlock/) reaches C(https://example.com/fleetlock/v1/pre-reboot); without the last
        C(/) it would be C(https://example.com/v1/pre-reboot), and the task warns).
      - Default is the base URL of Zincati's configuration on the host, when its strategy is C(fleet_lock)
        (C([updates] strategy = "fleet_lock") and C([updates.fleet_lock] base_url), in the fragments of
        C(/usr/lib/zincati/config.d), C(/run/zincati/config.d) and C(/etc/zincati/config.d), merged as Zincati
        merges them). C(${group}) in it is replaced by the group; other template variables are not known here, and
        the task fails asking for this option. Without either, the task fails naming this option.
      - Reading Zincati's configuration needs Python 3.11 or later on the controller (C(tomllib)).
    type: str
  group:
    description:
      - The reboot group, as FleetLock requires it (C(^[a-zA-Z0-9.-]+$)).
      - Default is Zincati's group on the host (C([identity] group) of its configuration), else V(default), as
        Zincati does.
    type: str
  id:
    description:
      - The client id that owns the slot. The slot taken for an id can only be given back by that id.
      - Default is the id Zincati sends for the host (C([identity] node_uuid) of its configuration, else its
        application-specific machine id, what C(systemd-id128 machine-id --app-specific=de35106b6ec24688b63afddaa156679b)
        prints on the host), 32 lowercase hexadecimal digits. It is computed on the controller from the host's
        C(/etc/machine-id), which must be 32 lowercase hexadecimal digits.
      - 1 to 253 letters, digits and C(.), C(_), C(:), C(@), C(-), starting with a letter or digit.
    type: str
  wait:
    description:
      - Seconds to keep asking while the server says the semaphore is full (the slots are held by other ids), every
        O(poll_interval) seconds; V(0) asks once.
      - Errors that say the semaphore is full, and nothing else, are asked again; they are the kinds
        C(failed_lock_semaphore_full) (the protocol document), C(failed_lock) (airlock, with HTTP 500) and
        C(locked) (fleetlock, with HTTP 423). Any other answer but 200, and a server that does not answer, fail at
        once.
      - At C(-v) each attempt that found the semaphore full is shown.
    type: int
    default: 0
  poll_interval:
    description: Seconds between two attempts while waiting (O(wait)).
    type: int
    default: 5
  timeout:
    description: Seconds each request may take.
    type: int
    default: 30
  validate_certs:
    description: Whether the server's TLS certificate is verified, for an C(https://) URL.
    type: bool
    default: true
  ca_path:
    description: A file of CA certificates (PEM) on the controller to verify the server's certificate with, instead of
      the system's.
    type: path
  client_cert:
    description: A client certificate (PEM) on the controller, for servers that ask for one.
    type: path
  client_key:
    description: The private key of O(client_cert) (PEM) on the controller, when that file does not hold it.
    type: path
notes:
  - >-
    With the default linear strategy, hosts of one play that wait for a slot wait for each other: the host that got
    the slot goes on to its next task (its reboot, then the release) only once every host of the batch has ended this
    task, so the others wait until O(wait) runs out. Take slots with C(serial: 1), with C(strategy: free), or in
    batches no larger than the group has slots.
  - FleetLock does not say whether a slot was held already, so the task reports a change whenever the server
    granted the request.
  - Redirects are not followed (the header C(fleet-lock-protocol) exists so that a redirected request is not taken
    for one meant for the server); a redirect fails as any other answer but 200.
  - The proxy settings of the controller's environment (C(https_proxy), C(no_proxy)) apply.
  - Zincati on the host takes and releases slots on its own with the same id. Stop it, or keep its strategy, while
    Ansible drives the host's updates.
seealso:
  - module: osimage.lifecycle.reboot
  - name: The FleetLock protocol
    description: The protocol as Zincati's documentation gives it.
    link: https://coreos.github.io/zincati/development/fleetlock/protocol/
'''

EXAMPLES = r'''
- name: Take a reboot slot, waiting up to an hour for one
  osimage.lifecycle.reboot_slot:
    url: https://fleetlock.example.com/
    state: acquired
    wait: 3600
    poll_interval: 30

- name: Reboot into the staged update
  osimage.lifecycle.reboot:

- name: Give the slot back
  osimage.lifecycle.reboot_slot:
    url: https://fleetlock.example.com/
    state: released

- name: Hosts whose Zincati uses fleet_lock already - its URL, group and id are the defaults
  osimage.lifecycle.reboot_slot:
    state: acquired
    wait: 600

- name: A host without /etc/machine-id of its own, in a group of its own
  osimage.lifecycle.reboot_slot:
    url: http://10.0.0.5:3333/
    group: workers
    id: "{{ inventory_hostname }}"
    state: acquired
'''

RETURN = r'''
id:
  description: The client id of the request.
  returned: success or a failure after the request was made
  type: str
  sample: 975228d46dc94622b9bbe16671e2b58d
group:
  description: The reboot group of the request.
  returned: success or a failure after the request was made
  type: str
  sample: default
url:
  description: The FleetLock base URL.
  returned: success or a failure after the request was made
  type: str
  sample: https://fleetlock.example.com/
state:
  description: The O(state) asked for.
  returned: success or a failure after the request was made
  type: str
  sample: acquired
request:
  description: The request sent (in check mode, the one that would be sent).
  returned: success or a failure after the request was made
  type: dict
  contains:
    method:
      description: Always C(POST).
      type: str
      sample: POST
    url:
      description: The endpoint.
      type: str
      sample: https://fleetlock.example.com/v1/pre-reboot
    body:
      description: The JSON body.
      type: dict
      sample: {"client_params": {"id": "975228d46dc94622b9bbe16671e2b58d", "group": "default"}}
attempts:
  description: How many requests were sent (0 in check mode).
  returned: success or a failure after the request was made
  type: int
  sample: 3
waited:
  description: Seconds from the first request to the answer that ended the task.
  returned: success or a failure after the request was made
  type: float
  sample: 10.1
status:
  description: The HTTP status of the answer that failed the task (none when the server did not answer).
  returned: failure
  type: int
  sample: 500
kind:
  description: The C(kind) of the server's error, when its answer had one.
  returned: failure
  type: str
  sample: failed_lock
value:
  description: The C(value) of the server's error, or the text of an answer without one.
  returned: failure
  type: str
  sample: all 1 semaphore slots currently locked
'''
