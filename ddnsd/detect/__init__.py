"""Public address detection: sources, validation, k-of-n agreement, netlink events.

A source is parsed at config time (``spec.parse_source``), made into a detector
(``sources.make_detector``), and the detectors of a family agree on one address
(``agree.detect_agreed``); ``netlink`` watches the interfaces, ``push`` takes a router's
dyndns2 update, ``validate`` says which addresses may stand in a record.
"""
