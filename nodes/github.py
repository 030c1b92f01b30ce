"""GitHub: create, get and list issues, get a repository (REST API, https://docs.github.com/rest).

Lists page through the `Link: <...>; rel="next"` header. Requests carry the documented
`Accept: application/vnd.github+json` and `X-GitHub-Api-Version` headers.
"""

from flowbox.credentials import CredentialTest, CredentialType, register
from flowbox.node import Param
from flowbox.service_node import Operation, Pagination, Service, service_node

register(CredentialType(
    "githubApi", "GitHub API", (
        Param("token", "string", label="Access token", required=True, secret=True,
              description="A personal access token (classic or fine-grained) or an app token"),),
    sign="bearer", test=CredentialTest("https://api.github.com/user"),
    description="GitHub token, sent as Authorization: Bearer"))

OWNER = Param("owner", "string", default="", required=True, placeholder="octocat",
              description="The account that owns the repository")
REPO = Param("repo", "string", default="", required=True, placeholder="hello-world",
             description="The repository's name")

service_node(Service(
    type="github", display_name="GitHub", icon="code", description="Create, get and list GitHub issues; get repositories",
    base_url="https://api.github.com", credentials=["githubApi"],
    headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
    error_paths=("message",),
    resources={
        "issue": [
            Operation("create", "POST", "/repos/{owner}/{repo}/issues", "Open an issue",
                      params=[OWNER, REPO,
                              Param("title", "string", default="", required=True, placeholder="Found a bug"),
                              Param("body", "string", default="", description="The issue's text (Markdown)"),
                              Param("labels", "json", default=None, description='Label names, like ["bug"]'),
                              Param("assignees", "json", default=None, description="Logins to assign")],
                      body={"title": "{title}", "body": "{body}", "labels": "{labels}", "assignees": "{assignees}"}),
            Operation("get", "GET", "/repos/{owner}/{repo}/issues/{issueNumber}", "Get an issue",
                      params=[OWNER, REPO,
                              Param("issueNumber", "number", default=None, required=True, min=1, integer=True,
                                    placeholder="1", description="The issue's number")]),
            Operation("list", "GET", "/repos/{owner}/{repo}/issues", "List a repository's issues",
                      params=[OWNER, REPO,
                              Param("state", "options", default="open", options=["open", "closed", "all"]),
                              Param("labelFilter", "string", default="",
                                    description="Only issues with all these labels (comma-separated)")],
                      query={"state": "{state}", "labels": "{labelFilter}"}, items="",
                      pagination=Pagination("link", size_param="per_page", max_size=100)),
        ],
        "repository": [
            Operation("get", "GET", "/repos/{owner}/{repo}", "Get a repository", params=[OWNER, REPO]),
        ],
    },
))
