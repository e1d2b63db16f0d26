from tests.visits.conftest import approved_route


def test_the_visit_world_has_two_teams_of_two_and_an_approved_route(world):
    route = approved_route(world)
    assert [t.members.count() for t in world.teams] == [2, 2]
    assert route.stops.count() == 3
    assert world.risk.has_perm("visits.approve_route")
    assert not world.lead.has_perm("visits.approve_route")
    assert world.visitors[0].has_perm("visits.add_evidence")
