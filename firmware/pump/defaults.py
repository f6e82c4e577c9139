"""Built-in profiles: the shipped profiles.json as a Python literal.

The board falls back to these when its profiles.json is missing or invalid, so
they must exist without any file. A host test keeps them equal to the
repository's profiles.json.
"""

DEFAULT_PROFILES = {'version': 1,
 'limits': {'max_vacuum_mmhg': 250,
            'max_session_min': 60,
            'pause_timeout_min': 10,
            'no_vacuum_s': 10},
 'modes': {'stimulation': {'cycles_per_min': 100,
                           'suction_ratio': 0.5,
                           'ramp_ratio': 0.4,
                           'vacuum_mmhg': {'min': 50, 'max': 130},
                           'levels': 9,
                           'default_level': 5},
           'expression': {'cycles_per_min': 60,
                          'suction_ratio': 0.7,
                          'ramp_ratio': 0.4,
                          'vacuum_mmhg': {'min': 150, 'max': 230},
                          'levels': 9,
                          'default_level': 5},
           'mixed': {'stimulation_cycles': 5, 'expression_cycles': 1, 'default_level': 5}},
 'programs': {'standard': [{'mode': 'stimulation', 'minutes': 2},
                           {'mode': 'expression', 'minutes': 28}],
              'power': [{'mode': 'stimulation', 'minutes': 2},
                        {'mode': 'expression', 'minutes': 18},
                        {'rest': 10},
                        {'mode': 'stimulation', 'minutes': 1},
                        {'mode': 'expression', 'minutes': 9},
                        {'rest': 10},
                        {'mode': 'stimulation', 'minutes': 1},
                        {'mode': 'expression', 'minutes': 9}],
              'catch_up': [{'mode': 'stimulation', 'minutes': 3, 'level': 1},
                           {'mode': 'expression', 'minutes': 12, 'level': 3}]}}
