def to_numpy_source(*a, **k): raise NotImplementedError
