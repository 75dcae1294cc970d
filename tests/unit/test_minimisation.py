from crossroads.domain.minimisation import minimise, path_tree


def test_keeps_only_named_paths_even_inside_lists():
    data = {
        "name": "A",
        "secret": 1,
        "address": {"street": "S", "number": "1"},
        "periods": [{"start": "x", "salary": 9}, {"start": "y", "salary": 8}],
    }
    tree = path_tree(["name", "address.street", "periods.start"])
    assert minimise(data, tree) == {
        "name": "A",
        "address": {"street": "S"},
        "periods": [{"start": "x"}, {"start": "y"}],
    }


def test_naming_an_object_keeps_it_whole_and_scalars_do_not_leak():
    assert minimise({"address": {"a": 1, "b": 2}}, path_tree(["address.a", "address"])) == {
        "address": {"a": 1, "b": 2}
    }
    assert minimise({"address": "a string"}, path_tree(["address.street"])) == {"address": None}
    assert minimise({"x": 1}, path_tree([])) == {}
