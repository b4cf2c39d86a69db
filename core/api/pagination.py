"""The API's pagination: DRF's page numbers, held to what the schema says of ``page``
(a whole number from 1). DRF alone also takes ``?page=`` (as page 1) and ``?page=last``;
here those are "Invalid page." (404) like any other page that is not a number."""

from rest_framework import pagination
from rest_framework.exceptions import NotFound


class PageNumberPagination(pagination.PageNumberPagination):
    last_page_strings = ()

    def get_page_number(self, request, paginator):
        value = request.query_params.get(self.page_query_param)
        if value is None:
            return 1
        if not (value.isascii() and value.isdigit()):
            raise NotFound(self.invalid_page_message.format(page_number=value, message="not a number"))
        return int(value)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters
